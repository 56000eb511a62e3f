import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../../src/server/gateway.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { chatBody, invariantViolation, parseSse, postStream } from '../helpers/sse.js';
import { dechunk, parseResponse, postHead, rawConnect } from './raw-http.js';

const root = mkdtempSync(join(tmpdir(), 'sluice-edge-'));
writeFileSync(join(root, 'index.html'), '<!doctype html><title>page</title>');
writeFileSync(join(root, 'app.js'), 'export {};\n');

let harness: TestGateway;
let pages: Gateway;
beforeAll(async () => {
  harness = await startTestGateway();
  pages = await startGateway({ env: {}, settings: { port: 0, host: '127.0.0.1' }, webRoot: root });
});
afterAll(async () => {
  await Promise.all([harness.close(), pages.close(100)]);
  rmSync(root, { recursive: true, force: true });
});
beforeEach(() => harness.emulator.reset());

describe('HEAD', () => {
  it('answers pages like GET, without a body', async () => {
    for (const path of ['/', '/index.html', '/app.js']) {
      const get = await fetch(`${pages.url}${path}`);
      const head = await fetch(`${pages.url}${path}`, { method: 'HEAD' });
      expect([path, head.status]).toEqual([path, 200]);
      expect(head.headers.get('content-type')).toBe(get.headers.get('content-type'));
      expect(head.headers.get('content-length')).toBe(get.headers.get('content-length'));
      expect(await head.text()).toBe('');
    }
    const health = await fetch(`${harness.url}/api/v1/chat/stream/health`, { method: 'HEAD' });
    expect(health.status).toBe(200);
    expect(await health.text()).toBe('');
    expect((await fetch(`${pages.url}/missing.js`, { method: 'HEAD' })).status).toBe(404);
  });
});

describe('405', () => {
  it('names the allowed methods in Allow', async () => {
    const cases: [string, string, string[]][] = [
      ['GET', '/api/v1/chat/stream', ['POST']],
      ['PUT', '/api/v1/generations', ['POST']],
      ['POST', '/api/v1/chat/stream/health', ['GET', 'HEAD']],
      ['DELETE', '/api/v1/chat/stream/gen_abc', ['GET']],
      ['GET', '/api/v1/chat/stream/gen_abc/cancel', ['POST']],
    ];
    for (const [method, path, allowed] of cases) {
      const answer = await fetch(`${harness.url}${path}`, { method });
      expect([method, path, answer.status]).toEqual([method, path, 405]);
      const allow = (answer.headers.get('allow') ?? '').split(/,\s*/);
      for (const name of allowed) expect([path, allow]).toEqual([path, expect.arrayContaining([name])]);
      expect(((await answer.json()) as { error: { code: string } }).error.code).toBe('method_not_allowed');
    }
  });
});

describe('X-Content-Type-Options: nosniff', () => {
  it('is on every answer: JSON, errors, streams, 204s and pages', async () => {
    const answers: [string, Response | { headers: Headers; status: number }][] = [];
    answers.push(['health', await fetch(`${harness.url}/api/v1/chat/stream/health`)]);
    answers.push(['404', await fetch(`${harness.url}/api/v1/nothing`)]);
    answers.push(['405', await fetch(`${harness.url}/api/v1/chat/stream`)]);
    answers.push(['400', await fetch(`${harness.url}/api/v1/chat/stream`, { method: 'POST' })]);
    answers.push(['options', await fetch(`${harness.url}/api/v1/chat/stream`, { method: 'OPTIONS' })]);
    const stream = await postStream(harness.url, chatBody());
    answers.push(['stream', stream]);
    const id = stream.headers.get('x-generation-id');
    const last = stream.frames.at(-1)?.id ?? 0;
    answers.push([
      '204',
      await fetch(`${harness.url}/api/v1/chat/stream/${id}`, { headers: { 'last-event-id': String(last) } }),
    ]);
    answers.push(['result', await fetch(`${harness.url}/api/v1/generations/${id}`)]);
    answers.push(['page', await fetch(`${pages.url}/`)]);
    for (const [name, answer] of answers) {
      expect([name, answer.headers.get('x-content-type-options')]).toEqual([name, 'nosniff']);
      if (answer instanceof Response) await answer.arrayBuffer();
    }
  });
});

describe('a client that half-closes after sending its request', () => {
  it('still gets the whole stream through done and data: [DONE]', async () => {
    harness.emulator.enqueue('openai', { chunkDelayMs: 20, chunks: 10 });
    const body = JSON.stringify(chatBody());
    const connection = await rawConnect(harness.url, { allowHalfOpen: true });
    connection.socket.write(postHead('/api/v1/chat/stream', Buffer.byteLength(body)) + body);
    connection.socket.end();
    const { text } = await connection.closed;
    const response = parseResponse(text);
    expect(response.status).toBe(200);
    const events = dechunk(response.body);
    const { frames } = parseSse(events);
    expect(frames.map((frame) => frame.event)).toContain('done');
    expect(events).toContain('data: [DONE]\n\n');
    expect(frames.filter((frame) => frame.event === 'chunk')).toHaveLength(10);
  });

  it('gets a resumed stream whole too', async () => {
    harness.emulator.enqueue('openai', { chunkDelayMs: 20, chunks: 10 });
    const started = await fetch(`${harness.url}/api/v1/generations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chatBody()),
    });
    const { stream_url: streamUrl } = (await started.json()) as { stream_url: string };
    const connection = await rawConnect(harness.url, { allowHalfOpen: true });
    connection.socket.write(`GET ${streamUrl} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    connection.socket.end();
    const { text } = await connection.closed;
    const events = dechunk(parseResponse(text).body);
    const violation = invariantViolation({
      status: 200,
      headers: new Headers(),
      raw: events,
      frames: parseSse(events).frames,
      comments: [],
      retry: undefined,
      json: undefined,
    });
    expect(violation).toBeUndefined();
  });
});
