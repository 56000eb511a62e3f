import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PROVIDERS } from '../../src/providers/registry.js';
import { hasChromium } from '../helpers/system.js';
import {
  type CuttingProxy,
  eventually,
  launchChromium,
  type PageGateway,
  screenshot,
  startCuttingProxy,
  startPageGateway,
} from './harness.js';

/**
 * The web chat page (web/) in real headless Chromium, against a demo gateway in this process
 * whose emulators the tests script. Every wait is bounded; everything stays on 127.0.0.1.
 */

const TEST_TIMEOUT = 30_000;

const LONG_ANSWER =
  'Streams arrive a piece at a time, so the page appends each piece as a text node once per ' +
  'animation frame. The reader sees the answer grow while the model is still writing it, and ' +
  'the cursor shows that more is on its way. When the done frame arrives the cursor goes away, ' +
  'the statistics show the real token counts from the gateway, and the answer is complete.';

/** Providers whose emulator streams reasoning text, in order of preference. */
const THINKING_EMULATORS = ['anthropic', 'gemini', 'ollama'];

interface HealthProvider {
  configured: boolean;
  emulated: boolean;
  default_model: string;
  models: string[];
}

describe.runIf(hasChromium())('web chat page in Chromium', () => {
  let browser: Browser;
  let target: PageGateway;
  let context: BrowserContext;
  let page: Page;
  let dialogs: string[];
  let consoleErrors: string[];

  beforeAll(async () => {
    target = await startPageGateway();
    browser = await launchChromium();
  }, TEST_TIMEOUT);

  afterAll(async () => {
    await browser?.close();
    await target?.close();
  }, TEST_TIMEOUT);

  beforeEach(async () => {
    target.emulator.reset();
    context = await browser.newContext({ viewport: { width: 1100, height: 760 }, deviceScaleFactor: 1 });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    dialogs = [];
    consoleErrors = [];
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => consoleErrors.push(`uncaught: ${error.message}`));
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    // Every text #status shows, in order: each assignment replaces its text node, so the added
    // nodes keep the history even when two changes land in one task.
    await page.addInitScript(() => {
      const log: string[] = [];
      const violations: string[] = [];
      (window as unknown as { statusLog: string[] }).statusLog = log;
      (window as unknown as { cspViolations: string[] }).cspViolations = violations;
      document.addEventListener('securitypolicyviolation', (event) => {
        violations.push(`${event.violatedDirective} ${event.blockedURI}`);
      });
      document.addEventListener('DOMContentLoaded', () => {
        const status = document.getElementById('status');
        if (status === null) return;
        new MutationObserver((records) => {
          for (const record of records) {
            for (const node of record.addedNodes) log.push(node.textContent ?? '');
          }
        }).observe(status, { childList: true });
      });
    });
  });

  afterEach(async () => {
    // The strict CSP holds: the import map and the module load without a single violation.
    const violations = await page.evaluate(
      () => (window as unknown as { cspViolations?: string[] }).cspViolations,
    );
    await context?.close();
    expect(violations ?? []).toEqual([]);
    // Chrome logs refused requests (4xx) and cut connections as failed loads; anything else
    // (an uncaught exception, a rejected promise) is a bug of the page.
    expect(consoleErrors.filter((text) => !text.startsWith('Failed to load resource'))).toEqual([]);
  });

  async function open(url = target.url): Promise<void> {
    await page.goto(url);
    await page.waitForSelector('html[data-ready="true"]');
  }

  async function choose(provider: string, model?: string): Promise<void> {
    await page.getByLabel('Provider', { exact: true }).selectOption(provider);
    if (model !== undefined) await page.getByLabel('Model', { exact: true }).selectOption(model);
  }

  async function sendPrompt(text: string): Promise<void> {
    const prompt = page.getByLabel('Message', { exact: true });
    await prompt.fill(text);
    await prompt.press('Enter');
  }

  const lastAnswer = () => page.locator('.turn').last().locator('.answer');

  function answerLength(): Promise<number> {
    return lastAnswer().evaluate((node) => (node.textContent ?? '').length);
  }

  async function waitForStatus(pattern: RegExp, timeout = 15_000): Promise<void> {
    await expect
      .poll(() => page.locator('#status').textContent(), { timeout, interval: 50 })
      .toMatch(pattern);
  }

  function statusLog(): Promise<string[]> {
    return page.evaluate(() => (window as unknown as { statusLog: string[] }).statusLog);
  }

  async function healthProviders(): Promise<Record<string, HealthProvider>> {
    const response = await fetch(`${target.url}/api/v1/chat/stream/health`);
    return ((await response.json()) as { providers: Record<string, HealthProvider> }).providers;
  }

  it(
    'lists the configured providers and their models from the health endpoint',
    async () => {
      await open();
      const providers = await healthProviders();
      const configured = Object.entries(providers).filter(([, provider]) => provider.configured);
      const options = await page
        .getByLabel('Provider', { exact: true })
        .locator('option')
        .evaluateAll((nodes) => nodes.map((node) => (node as HTMLOptionElement).value));
      expect(options).toEqual(configured.map(([id]) => id));
      await choose('openai');
      const openai = providers.openai as HealthProvider;
      expect(await page.getByLabel('Model', { exact: true }).inputValue()).toBe(openai.default_model);
      const models = await page
        .getByLabel('Model', { exact: true })
        .locator('option')
        .evaluateAll((nodes) => nodes.map((node) => (node as HTMLOptionElement).value));
      expect(new Set(models)).toEqual(new Set([openai.default_model, ...openai.models]));
    },
    TEST_TIMEOUT,
  );

  it(
    'streams the answer in: it grows with a cursor, then is complete with stats; later turns carry the earlier ones',
    async () => {
      await open();
      await choose('openai');
      target.emulator.enqueue('openai', { text: LONG_ANSWER, ttftMs: 100, chunkDelayMs: 60 });

      const prompt = page.getByLabel('Message', { exact: true });
      await prompt.fill('First line');
      await prompt.press('Shift+Enter');
      await prompt.pressSequentially('second line');
      expect(await prompt.inputValue()).toBe('First line\nsecond line');
      expect(await page.locator('.turn').count()).toBe(0);
      await prompt.press('Enter');

      await expect.poll(answerLength, { timeout: 10_000, interval: 20 }).toBeGreaterThan(0);
      const early = await answerLength();
      await expect.poll(answerLength, { timeout: 10_000, interval: 20 }).toBeGreaterThan(early + 40);
      // One look at the page, so that everything below describes the same moment mid-stream.
      const midway = await page.evaluate(() => {
        const answer = document.querySelector('.turn:last-child .answer');
        const text = (id: string) => document.getElementById(id)?.textContent ?? '';
        return {
          text: answer?.textContent ?? '',
          cursors: answer?.querySelectorAll('.cursor').length ?? 0,
          busy: answer?.getAttribute('aria-busy') ?? null,
          status: text('status'),
          stopEnabled: !(document.getElementById('stop') as HTMLButtonElement).disabled,
          tokens: text('stat-tokens'),
          ttft: text('stat-ttft'),
        };
      });
      expect(midway.text.length).toBeGreaterThan(early + 40);
      expect(midway.text.length).toBeLessThan(LONG_ANSWER.length);
      expect(LONG_ANSWER.startsWith(midway.text)).toBe(true);
      expect(midway).toMatchObject({ cursors: 1, busy: 'true', status: 'Streaming…', stopEnabled: true });
      expect(midway.tokens).toMatch(/^~\d+ out$/);
      expect(midway.ttft).toMatch(/^\d+ ms$|^\d\.\d\d s$/);
      await screenshot(page, 'chat-streaming.png');

      await waitForStatus(/^Done$/);
      expect(await lastAnswer().textContent()).toBe(LONG_ANSWER);
      expect(await lastAnswer().locator('.cursor').count()).toBe(0);
      expect(await lastAnswer().getAttribute('aria-busy')).toBeNull();
      expect(await page.locator('.turn .user').last().textContent()).toBe('First line\nsecond line');
      expect(await page.locator('.turn .meta').last().textContent()).toMatch(
        /^openai · gpt-4o-mini · emulated/,
      );
      expect(await page.locator('#stat-tokens').textContent()).toMatch(/^\d+ out · \d+ in$/);
      expect(await page.locator('#stat-speed').textContent()).toMatch(/tok\/s/);
      expect(await page.getByRole('button', { name: 'Stop' }).isDisabled()).toBe(true);

      // A second turn sends the first exchange back as context.
      target.emulator.enqueue('openai', { text: 'Second answer.', chunkDelayMs: 5 });
      await sendPrompt('And then?');
      await waitForStatus(/^Done$/);
      expect(await lastAnswer().textContent()).toBe('Second answer.');
      expect(await page.locator('.turn').count()).toBe(2);
      const bodies = target.emulator.stats('openai').bodies as {
        messages: { role: string; content: unknown }[];
      }[];
      const sent = bodies.at(-1)?.messages.map((message) => [message.role, message.content]);
      expect(sent).toEqual([
        ['user', 'First line\nsecond line'],
        ['assistant', LONG_ANSWER],
        ['user', 'And then?'],
      ]);
      await screenshot(page, 'chat-done.png');
    },
    TEST_TIMEOUT,
  );

  it(
    'streams reasoning into its own collapsible panel for a provider that can reason',
    async () => {
      const providers = await healthProviders();
      const candidate = THINKING_EMULATORS.find((id) => {
        const provider = providers[id];
        const definition = PROVIDERS.find((entry) => entry.id === id);
        return (
          provider?.configured === true && definition?.capabilities(provider.default_model).reasoning === true
        );
      });
      if (candidate === undefined) {
        throw new Error(
          `none of ${THINKING_EMULATORS.join(', ')} is configured with a default model that reasons`,
        );
      }
      await open();
      await choose(candidate);
      await page.getByLabel('Reasoning', { exact: true }).selectOption('budget');
      await page.getByLabel('Reasoning budget (tokens)', { exact: true }).fill('2048');
      target.emulator.enqueue(candidate, {
        thinkingChunks: 40,
        chunkDelayMs: 40,
        text: 'So the answer is forty-two.',
      });
      await sendPrompt('What is six times seven?');

      const thinking = page.locator('.turn').last().locator('details.thinking');
      const thinkingLength = () =>
        thinking.locator('.thinking-text').evaluate((node) => node.textContent?.length ?? 0);
      await expect.poll(thinkingLength, { timeout: 10_000, interval: 20 }).toBeGreaterThan(0);
      const early = await thinkingLength();
      await expect.poll(thinkingLength, { timeout: 10_000, interval: 20 }).toBeGreaterThan(early + 20);
      expect(await thinking.evaluate((node) => (node as HTMLDetailsElement).open)).toBe(true);
      await waitForStatus(/Thinking/);
      await screenshot(page, 'chat-reasoning.png');

      await waitForStatus(/^Done$/);
      expect(await lastAnswer().textContent()).toBe('So the answer is forty-two.');
      expect(await thinking.locator('.thinking-text').textContent()).toMatch(
        /^Let me think about this step by step/,
      );
      // Collapsed once the answer began; the summary opens it again, from the keyboard too.
      expect(await thinking.evaluate((node) => (node as HTMLDetailsElement).open)).toBe(false);
      await thinking.locator('summary').focus();
      await page.keyboard.press('Enter');
      expect(await thinking.evaluate((node) => (node as HTMLDetailsElement).open)).toBe(true);
      const body = target.emulator.stats(candidate).bodies.at(-1);
      expect(JSON.stringify(body)).toMatch(/2048/);
    },
    TEST_TIMEOUT,
  );

  it(
    'Stop ends the generation at once and cancels the upstream request',
    async () => {
      await open();
      await choose('openai');
      target.emulator.enqueue('openai', { chunks: 500, chunkDelayMs: 40 });
      const closedBefore = target.emulator.stats('openai').closedByClient;
      await sendPrompt('Tell me a very long story');
      await expect.poll(answerLength, { timeout: 10_000, interval: 20 }).toBeGreaterThan(30);

      await page.getByRole('button', { name: 'Stop' }).click();
      await waitForStatus(/^Stopped$/, 5000);
      await eventually(
        () => target.emulator.stats('openai').closedByClient > closedBefore,
        'the emulator to see its client (the gateway) go away',
        3000,
      );
      const stoppedAt = await answerLength();
      await page.waitForTimeout(400);
      expect(await answerLength()).toBe(stoppedAt);
      expect(await lastAnswer().locator('.cursor').count()).toBe(0);
      expect(await page.locator('.turn').last().locator('.finish').last().textContent()).toBe('Stopped');
      expect(await page.getByRole('button', { name: 'Send' }).isEnabled()).toBe(true);
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('prompt');

      const generationId = await page.locator('.turn .assistant').last().getAttribute('data-generation-id');
      const result = await fetch(`${target.url}/api/v1/generations/${generationId}`);
      expect(((await result.json()) as { finish_reason: string }).finish_reason).toBe('cancelled');
    },
    TEST_TIMEOUT,
  );

  it(
    'shows errors in place with their code: upstream 401, upstream 500 without retries, a refused request',
    async () => {
      await open();
      await choose('openai');

      target.emulator.enqueue('openai', { fault: { type: 'http', status: 401 } });
      await sendPrompt('first');
      const firstError = page.locator('.turn').nth(0).locator('.error');
      await firstError.waitFor();
      expect(await firstError.locator('code').textContent()).toBe('provider_auth');
      expect(await firstError.getAttribute('role')).toBe('alert');
      await waitForStatus(/^Error: provider_auth$/);

      target.emulator.enqueue('openai', { fault: { type: 'http', status: 500 } });
      const requestsBefore = target.emulator.stats('openai').requests;
      await sendPrompt('second');
      const secondError = page.locator('.turn').nth(1).locator('.error');
      await secondError.waitFor();
      expect(await secondError.locator('code').textContent()).toBe('upstream_error');
      expect(target.emulator.stats('openai').requests).toBe(requestsBefore + 1);

      // Refused before any stream: OpenAI's default model cannot take a reasoning budget.
      await page.getByLabel('Reasoning', { exact: true }).selectOption('budget');
      await sendPrompt('third');
      const thirdError = page.locator('.turn').nth(2).locator('.error');
      await thirdError.waitFor();
      expect(await thirdError.locator('code').textContent()).toBe('thinking_not_supported');
      expect(await thirdError.textContent()).toMatch(/field: thinking_budget/);
      await waitForStatus(/^Error: thinking_not_supported$/);
      // Failed turns are not sent back as context.
      target.emulator.enqueue('openai', { text: 'Fine.' });
      await page.getByLabel('Reasoning', { exact: true }).selectOption('auto');
      await sendPrompt('fourth');
      await waitForStatus(/^Done$/);
      const body = target.emulator.stats('openai').bodies.at(-1) as { messages: { content: unknown }[] };
      expect(body.messages.map((message) => message.content)).toEqual(['fourth']);
      await page.locator('.turn').nth(2).scrollIntoViewIfNeeded();
      await screenshot(page, 'chat-error.png');
    },
    TEST_TIMEOUT,
  );

  it(
    'resumes a dropped connection on its own: the full text once, and the page says so',
    async () => {
      const proxy: CuttingProxy = await startCuttingProxy(target.url);
      try {
        await open(proxy.url);
        await choose('openai');
        target.emulator.enqueue('openai', { text: LONG_ANSWER, ttftMs: 50, chunkDelayMs: 45 });
        await sendPrompt('Survive a dropped connection');
        await expect.poll(answerLength, { timeout: 10_000, interval: 20 }).toBeGreaterThan(40);
        expect(await answerLength()).toBeLessThan(LONG_ANSWER.length);

        expect(proxy.cutAll()).toBeGreaterThan(0);
        await waitForStatus(/^Done \(resumed\)$/, 20_000);
        expect(await lastAnswer().textContent()).toBe(LONG_ANSWER);
        const notice = page.locator('.turn').last().locator('.notice');
        expect(await notice.textContent()).toMatch(/resumed/);
        const log = await statusLog();
        expect(log).toContain('Reconnecting…');
        expect(log.some((text) => text.startsWith('Resumed'))).toBe(true);
        const generationId = await page.locator('.turn .assistant').last().getAttribute('data-generation-id');
        expect(proxy.requests).toContain(`GET /api/v1/chat/stream/${generationId} HTTP/1.1`);
        // The generation was never restarted upstream.
        expect(target.emulator.stats('openai').requests).toBe(1);
        await screenshot(page, 'chat-resumed.png');
      } finally {
        await proxy.close();
      }
    },
    TEST_TIMEOUT,
  );

  it(
    'renders model and user text as text, never as HTML',
    async () => {
      await open();
      await choose('openai');
      const hostile = 'Look: <img src=x onerror=alert(1)> and <script>alert(2)</script> & <b>bold</b>';
      target.emulator.enqueue('openai', { text: hostile, chunkDelayMs: 5 });
      await sendPrompt('<img src=y onerror=alert(3)>');
      await waitForStatus(/^Done$/);

      expect(await lastAnswer().textContent()).toBe(hostile);
      await page.getByText('<img src=x onerror=alert(1)>', { exact: false }).waitFor({ state: 'visible' });
      expect(await page.locator('.turn .user').last().textContent()).toBe('<img src=y onerror=alert(3)>');
      expect(await page.locator('img').count()).toBe(0);
      expect(await page.locator('b').count()).toBe(0);
      expect(await page.locator('body script').count()).toBe(0);
      await page.waitForTimeout(200);
      expect(dialogs).toEqual([]);
    },
    TEST_TIMEOUT,
  );

  it(
    'shows a "calling tool" indicator when a tool call starts',
    async () => {
      await open();
      await choose('openai');
      await page.getByLabel('Offer the get_weather tool', { exact: true }).check();
      target.emulator.enqueue('openai', { toolCall: true, ttftMs: 50 });
      await sendPrompt('Weather in Paris?');
      await waitForStatus(/^Done$/);
      expect(await statusLog()).toContain('Calling tool get_weather…');
      const tool = page.locator('.turn').last().locator('.tool');
      expect(await tool.textContent()).toMatch(/^Called tool get_weather\{"city":"Paris"\}$/);
      expect(await page.locator('.turn').last().locator('.finish').textContent()).toBe(
        'Finished with a tool call',
      );
      const body = target.emulator.stats('openai').bodies.at(-1) as {
        tools: { function: { name: string } }[];
      };
      expect(body.tools.map((tool) => tool.function.name)).toEqual(['get_weather']);
    },
    TEST_TIMEOUT,
  );

  it(
    'works from the keyboard alone: labels, focus order, visible focus, Escape stops',
    async () => {
      await open();
      const unlabelled = await page.evaluate(() =>
        [...document.querySelectorAll('input, select, textarea, button')]
          .filter((control) => {
            const labels = (control as HTMLInputElement).labels;
            const named =
              (labels !== null && labels.length > 0) ||
              control.getAttribute('aria-label') ||
              (control.tagName === 'BUTTON' && control.textContent?.trim());
            return !named;
          })
          .map((control) => control.outerHTML),
      );
      expect(unlabelled).toEqual([]);

      const order: string[] = [];
      for (let step = 0; step < 7; step++) {
        await page.keyboard.press('Tab');
        order.push(await page.evaluate(() => document.activeElement?.id ?? ''));
      }
      // The budget field is hidden and Stop is disabled while idle, so both are skipped.
      expect(order).toEqual(['new-chat', 'provider', 'model', 'reasoning', 'tool', 'prompt', 'send']);
      const outline = await page.evaluate(() => {
        const focused = document.activeElement as HTMLElement;
        const style = getComputedStyle(focused);
        return { style: style.outlineStyle, width: Number.parseFloat(style.outlineWidth) };
      });
      expect(outline.style).not.toBe('none');
      expect(outline.width).toBeGreaterThanOrEqual(2);

      // The budget field appears (and joins the focus order) only when a budget is chosen.
      await page.getByLabel('Reasoning', { exact: true }).focus();
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('ArrowDown');
      expect(await page.getByLabel('Reasoning', { exact: true }).inputValue()).toBe('budget');
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('budget');
      await page.getByLabel('Reasoning', { exact: true }).selectOption('auto');

      await choose('openai');
      target.emulator.enqueue('openai', { chunks: 400, chunkDelayMs: 40 });
      await page.getByLabel('Message', { exact: true }).focus();
      await page.keyboard.type('Keyboard only');
      await page.keyboard.press('Enter');
      await expect.poll(answerLength, { timeout: 10_000, interval: 20 }).toBeGreaterThan(10);
      expect(await page.locator('#status').getAttribute('aria-live')).toBe('polite');
      await page.keyboard.press('Escape');
      await waitForStatus(/^Stopped$/, 5000);
    },
    TEST_TIMEOUT,
  );

  it(
    'fits a phone screen without sideways scrolling',
    async () => {
      await page.setViewportSize({ width: 390, height: 844 });
      await open();
      await choose('openai');
      target.emulator.enqueue('openai', { text: LONG_ANSWER, chunkDelayMs: 2 });
      await sendPrompt('How does it look on a phone?');
      await waitForStatus(/^Done$/);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      const send = await page.getByRole('button', { name: 'Send' }).boundingBox();
      expect(send).not.toBeNull();
      expect((send?.x ?? 0) + (send?.width ?? 0)).toBeLessThanOrEqual(390);
      expect(send?.height ?? 0).toBeGreaterThanOrEqual(36);
      await screenshot(page, 'chat-phone.png');
    },
    TEST_TIMEOUT,
  );
});
