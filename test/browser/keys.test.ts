import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium } from '../helpers/system.js';
import { launchChromium, type PageGateway, startPageGateway } from './harness.js';

/** The web page in front of a gateway with keys, in real headless Chromium. */

const KEY = 'sk-gw-web-page-0001';

describe.runIf(hasChromium())('web page with gateway keys', () => {
  let browser: Browser;
  let target: PageGateway;

  beforeAll(async () => {
    target = await startPageGateway({ apiKeys: [{ id: 'web', key: KEY, limits: {} }] });
    target.emulator.setDefaults({ ttftMs: 10, chunkDelayMs: 5, chunks: 6 });
    browser = await launchChromium();
  }, 30_000);
  afterAll(async () => {
    await browser?.close();
    await target?.close();
  }, 30_000);

  async function send(page: Page, text: string): Promise<void> {
    await page.locator('#prompt').fill(text);
    await page.locator('#send').click();
  }

  it('asks for a key, sends it as a header, and keeps it in the browser', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    const sent: (string | undefined)[] = [];
    page.on('request', (request) => {
      if (request.url().endsWith('/api/v1/chat/stream')) sent.push(request.headers()['x-api-key']);
    });
    await page.goto(target.url);
    await page.waitForSelector('html[data-ready="true"]');
    // The page's own files came without a key; health says the gateway needs one.
    await expect.poll(() => page.locator('#gateway-state').textContent()).toMatch(/needs a key/);
    const keyField = page.locator('#api-key');
    expect(await keyField.isVisible()).toBe(true);

    // A wrong key is refused where the answer would be, and the page asks again.
    await keyField.fill('sk-gw-wrong');
    await page.getByRole('button', { name: 'Use key' }).click();
    await send(page, 'Hello');
    await page.locator('.error').first().waitFor();
    expect(await page.locator('.error').first().textContent()).toMatch(/unauthorized/);
    await expect.poll(() => page.locator('#gateway-state').textContent()).toMatch(/refused the key/);

    await keyField.fill(KEY);
    await page.getByRole('button', { name: 'Use key' }).click();
    await send(page, 'Hello again');
    await expect.poll(() => page.locator('#status').textContent(), { timeout: 10_000 }).toBe('Done');
    expect(sent).toEqual(['sk-gw-wrong', KEY]);
    expect(await page.evaluate(() => localStorage.getItem('sluice.apiKey'))).toBe(KEY);
    // The key never shows in the page.
    expect(await page.content()).not.toContain(KEY);

    // A later visit uses the kept key without asking.
    const later = await context.newPage();
    later.on('request', (request) => {
      if (request.url().endsWith('/api/v1/chat/stream')) sent.push(request.headers()['x-api-key']);
    });
    await later.goto(target.url);
    await later.waitForSelector('html[data-ready="true"]');
    await expect.poll(() => later.locator('#gateway-state').textContent()).toMatch(/Gateway/);
    await send(later, 'Third');
    await expect.poll(() => later.locator('#status').textContent(), { timeout: 10_000 }).toBe('Done');
    expect(sent.at(-1)).toBe(KEY);
    await context.close();
  }, 30_000);
});
