import { join, resolve } from 'node:path';
import { EventSource } from 'eventsource';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../../src/server/gateway.js';
import { chatBody, postStream, readResponse } from '../helpers/sse.js';

const ALPHA = 'sk-gw-alpha-0001-secret';
const BETA = 'sk-gw-beta-0002-secret';

let gateway: Gateway;
let url: string;

beforeAll(async () => {
  gateway = await startGateway({
    env: { SLUICE_DEMO: '1', SLUICE_API_KEYS: `${ALPHA}, ${BETA}` },
    settings: { port: 0, host: '127.0.0.1', resumeGraceMs: 2000 },
    // The page's own files, to show they need no key.
    webRoot: join(resolve(import.meta.dirname, '..', '..'), 'web'),
  });
  gateway.emulator?.setDefaults({ ttftMs: 0, chunkDelayMs: 0, chunks: 8 });
  url = gateway.url;
});
afterAll(() => gateway?.close(200));

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

async function started(key: string): Promise<{ id: string; streamUrl: string }> {
  const response = await fetch(`${url}/api/v1/generations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: JSON.stringify(chatBody()),
  });
  expect(response.status).toBe(201);
  const body = (await response.json()) as { generation_id: string; stream_url: string };
  return { id: body.generation_id, streamUrl: body.stream_url };
}

describe('gateway keys', () => {
  it('refuse a request with no key or a wrong key with 401 unauthorized', async () => {
    const none = await postStream(url, chatBody());
    expect(none.status).toBe(401);
    expect(none.json.error.code).toBe('unauthorized');
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const wrong = await postStream(url, chatBody(), { headers: bearer('sk-gw-not-a-key') });
    expect(wrong.status).toBe(401);
    expect(wrong.json.error.code).toBe('unauthorized');
    const wrongHeader = await postStream(url, chatBody(), { headers: { 'x-api-key': `${ALPHA}x` } });
    expect(wrongHeader.status).toBe(401);
    // A proxy's own Basic credentials are not a gateway key.
    const basic = await postStream(url, chatBody(), { headers: { authorization: `Basic ${ALPHA}` } });
    expect(basic.status).toBe(401);
    // Nothing of a refusal echoes the key.
    expect(wrong.raw + wrongHeader.raw).not.toContain('sk-gw');
  });

  it('accept either key, as Bearer or X-Api-Key', async () => {
    const viaBearer = await postStream(url, chatBody(), { headers: bearer(ALPHA) });
    expect(viaBearer.status).toBe(200);
    expect(viaBearer.frames.at(-1)?.event).toBe('done');
    const viaHeader = await postStream(url, chatBody(), { headers: { 'x-api-key': BETA } });
    expect(viaHeader.status).toBe(200);
  });

  it('are not needed for health (which says auth), the probes and the web page files', async () => {
    const health = await fetch(`${url}/api/v1/chat/stream/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', auth: true });
    expect((await fetch(`${url}/livez`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect((await fetch(`${url}/styles.css`)).status).toBe(200);
  });

  it('guard /metrics too', async () => {
    expect((await fetch(`${url}/metrics`)).status).toBe(401);
    const metrics = await fetch(`${url}/metrics`, { headers: bearer(BETA) });
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('sluice_requests_total');
  });
});

describe('a generation belongs to the key that started it', () => {
  it('another key gets 404 on resume, result and cancel; its own key gets them', async () => {
    const { id } = await started(ALPHA);
    for (const [method, path] of [
      ['GET', `/api/v1/chat/stream/${id}`],
      ['GET', `/api/v1/generations/${id}`],
      ['POST', `/api/v1/chat/stream/${id}/cancel`],
    ] as const) {
      const other = await fetch(`${url}${path}`, { method, headers: bearer(BETA) });
      expect(other.status, `${method} ${path}`).toBe(404);
      expect(((await other.json()) as { error: { code: string } }).error.code).toBe('not_found');
      const none = await fetch(`${url}${path}`, { method });
      expect(none.status, `${method} ${path} without a key`).toBe(401);
      await none.body?.cancel();
    }
    const own = await readResponse(
      await fetch(`${url}/api/v1/chat/stream/${id}`, { headers: bearer(ALPHA) }),
    );
    expect(own.status).toBe(200);
    expect(own.frames.at(-1)?.event).toBe('done');
    const result = await fetch(`${url}/api/v1/generations/${id}`, { headers: bearer(ALPHA) });
    expect(result.status).toBe(200);
  });

  it('POST /api/v1/generations hands back a stream_url a plain EventSource reads without headers', async () => {
    const { id, streamUrl } = await started(ALPHA);
    expect(streamUrl).toMatch(new RegExp(`^/api/v1/chat/stream/${id}\\?token=[A-Za-z0-9_-]{43}$`));
    expect(streamUrl).not.toContain(ALPHA);
    const source = new EventSource(`${url}${streamUrl}`);
    const events: string[] = [];
    await new Promise<void>((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error('EventSource did not finish')), 10_000);
      for (const name of ['start', 'chunk', 'done']) {
        source.addEventListener(name, () => {
          events.push(name);
          if (name === 'done') {
            clearTimeout(timer);
            source.close();
            resolvePromise();
          }
        });
      }
      source.addEventListener('error', (event) => {
        if ((event as { code?: number }).code === 401) reject(new Error('refused'));
      });
    });
    expect(events[0]).toBe('start');
    expect(events.at(-1)).toBe('done');
    // The token reads the result too, but cannot cancel.
    const result = await fetch(`${url}/api/v1/generations/${id}?${streamUrl.split('?')[1]}`);
    expect(result.status).toBe(200);
    const cancel = await fetch(`${url}/api/v1/chat/stream/${id}/cancel?${streamUrl.split('?')[1]}`, {
      method: 'POST',
    });
    expect(cancel.status).toBe(401);
  });

  it('refuses a stream token on another generation, and a forged one', async () => {
    const first = await started(ALPHA);
    const second = await started(ALPHA);
    const token = first.streamUrl.split('?')[1] ?? '';
    const elsewhere = await fetch(`${url}/api/v1/chat/stream/${second.id}?${token}`);
    expect(elsewhere.status).toBe(401);
    expect(((await elsewhere.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    const forged = await fetch(`${url}/api/v1/chat/stream/${first.id}?token=${'A'.repeat(43)}`);
    expect(forged.status).toBe(401);
    await forged.body?.cancel();
    // A token is for one generation of one key: another key's token does not open it either.
    const betaGeneration = await started(BETA);
    const crossed = await fetch(`${url}/api/v1/chat/stream/${betaGeneration.id}?${token}`);
    expect(crossed.status).toBe(401);
    await crossed.body?.cancel();
  });
});
