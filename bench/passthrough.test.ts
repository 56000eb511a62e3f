import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allDialects } from '../src/emulators/dialects.js';
import { EmulatorServer } from '../src/emulators/server.js';
import { type Passthrough, startPassthrough } from './passthrough.js';

describe('bench pass-through proxy', () => {
  let emulator: EmulatorServer;
  let proxy: Passthrough;
  const upstreamBytes: Buffer[] = [];

  beforeAll(async () => {
    emulator = new EmulatorServer({
      dialects: allDialects(),
      defaults: { ttftMs: 5, chunkDelayMs: 1, chunks: 30 },
    });
    const origin = await emulator.listen();
    proxy = await startPassthrough({
      upstream: origin,
      onUpstreamData: (chunk) => upstreamBytes.push(chunk),
    });
  });

  afterAll(async () => {
    await proxy?.close();
    await emulator?.close();
  });

  it('forwards the emulator response bytes and status unchanged', async () => {
    const response = await request(`${proxy.url}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer bench-test' },
      body: JSON.stringify({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'Hello' }],
        stream: true,
        stream_options: { include_usage: true },
      }),
      headersTimeout: 5000,
      bodyTimeout: 5000,
    });
    const received = Buffer.from(await response.body.arrayBuffer());

    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    // What reached the client is exactly what the emulator wrote to the proxy.
    expect(received.equals(Buffer.concat(upstreamBytes))).toBe(true);
    const text = received.toString('utf8');
    expect(text.match(/"delta":\{"content":"/g)).toHaveLength(30);
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(emulator.stats('openai').requests).toBe(1);
  });

  it('passes an upstream error status and body through', async () => {
    emulator.enqueue('openai', { fault: { type: 'http', status: 429, retryAfter: '2' } });
    const response = await request(`${proxy.url}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer bench-test' },
      body: JSON.stringify({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'Hi' }],
        stream: true,
      }),
      headersTimeout: 5000,
      bodyTimeout: 5000,
    });
    const body = (await response.body.json()) as { error: { code: string } };
    expect(response.statusCode).toBe(429);
    expect(response.headers['retry-after']).toBe('2');
    expect(body.error.code).toBe('rate_limit_exceeded');
  });
});
