import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/server/gateway.js';
import { CHROMIUM_PATH, hasChromium } from '../helpers/system.js';
import { emulatorOf, startDemoGateway, waitFor } from './helpers.js';

/**
 * The built client (dist/client) unchanged in Chromium: loaded as ES modules from the gateway,
 * `eventsource-parser` mapped by an import map, the page's origin as the base URL.
 */

const PAGE = `<!doctype html><html><head><meta charset="utf-8">
<script type="importmap">{"imports":{"eventsource-parser":"/vendor/eventsource-parser.js"}}</script>
<script type="module" src="/checks.js"></script>
</head><body></body></html>`;

/** Runs in the page (plain JS, so the test runner's transforms never touch it). */
const CHECKS = `import * as client from '/client/index.js';
const request = { provider: 'openai', messages: [{ role: 'user', content: 'hi' }] };
window.checks = {
  async stream() {
    const stream = await client.streamChat(request);
    const ids = [];
    for await (const frame of stream) ids.push(frame.id);
    const refused = await client.streamChat({ ...request, temperature: 9 }).catch((error) => error);
    return {
      ids,
      text: stream.text,
      finish: stream.finishReason,
      refusedIsTyped: refused instanceof client.SluiceRequestError,
      refused: { code: refused.code, field: refused.field, status: refused.status },
    };
  },
  async abort() {
    const stream = await client.streamChat(request);
    for await (const frame of stream) if (frame.event === 'chunk') return stream.abort();
    return 'no chunk';
  },
};
document.body.dataset.ready = 'yes';
`;

interface Checks {
  stream(): Promise<{
    ids: number[];
    text: string;
    finish: string | null;
    refusedIsTyped: boolean;
    refused: unknown;
  }>;
  abort(): Promise<boolean | string>;
}

describe.runIf(hasChromium())('client in a browser', () => {
  let gateway: Gateway;
  let browser: Browser;
  let page: Page;
  let webRoot: string;

  beforeAll(async () => {
    webRoot = mkdtempSync(join(tmpdir(), 'sluice-client-page-'));
    writeFileSync(join(webRoot, 'index.html'), PAGE);
    writeFileSync(join(webRoot, 'checks.js'), CHECKS);
    gateway = await startDemoGateway({}, webRoot);
    emulatorOf(gateway).setDefaults({ ttftMs: 5, chunkDelayMs: 5, chunks: 10 });
    browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
      timeout: 20_000,
    });
    page = await browser.newPage();
    await page.goto(`${gateway.url}/`);
    await page.waitForSelector('body[data-ready="yes"]', { state: 'attached', timeout: 10_000 });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await gateway?.close(500);
    rmSync(webRoot, { recursive: true, force: true });
  });

  it('streams, accumulates, and reports typed errors', async () => {
    emulatorOf(gateway).enqueue('openai', { text: 'Hello from the browser, naïve café 😀.' });
    const outcome = await page.evaluate(() => (window as unknown as { checks: Checks }).checks.stream());
    expect(outcome.ids).toEqual(outcome.ids.map((_, index) => index + 1));
    expect(outcome.text).toBe('Hello from the browser, naïve café 😀.');
    expect(outcome.finish).toBe('stop');
    expect(outcome.refusedIsTyped).toBe(true);
    expect(outcome.refused).toEqual({ code: 'invalid_request', field: 'temperature', status: 400 });
  });

  it('abort() cancels upstream from the browser', async () => {
    const emulator = emulatorOf(gateway);
    const before = emulator.stats('openai').closedByClient;
    emulator.enqueue('openai', { chunkDelayMs: 200, chunks: 100 });
    const confirmed = await page.evaluate(() => (window as unknown as { checks: Checks }).checks.abort());
    expect(confirmed).toBe(true);
    expect(await waitFor(() => emulator.stats('openai').closedByClient > before, 3000)).toBe(true);
  });
});
