import { describe, expect, it } from 'vitest';
import { parseResponse, rawConnect } from '../hardening/raw-http.js';
import { eventually, startTestGateway } from '../helpers/gateway.js';
import { openLive, streamRequest } from '../helpers/live.js';
import { startRedis } from '../helpers/redis.js';
import { chatBody } from '../helpers/sse.js';

async function readyz(url: string): Promise<{ status: number; body: { status: string; reason?: string } }> {
  const response = await fetch(`${url}/readyz`);
  return { status: response.status, body: (await response.json()) as { status: string; reason?: string } };
}

describe('probes', () => {
  it('/livez and /readyz answer 200 while the gateway takes work; health keeps its content', async () => {
    const harness = await startTestGateway();
    try {
      expect((await fetch(`${harness.url}/livez`)).status).toBe(200);
      expect(await readyz(harness.url)).toEqual({ status: 200, body: { status: 'ready' } });
      const head = await fetch(`${harness.url}/readyz`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      const health = (await (await fetch(`${harness.url}/api/v1/chat/stream/health`)).json()) as Record<
        string,
        unknown
      >;
      expect(health).toMatchObject({ status: 'ok', auth: false, active_streams: 0 });
      expect(health.providers).toBeTypeOf('object');
    } finally {
      await harness.close();
    }
  });

  it('/readyz answers 503 once shutdown began, while /livez still answers', async () => {
    const harness = await startTestGateway();
    // A running stream keeps the gateway shutting down for a while.
    harness.emulator.enqueue('openai', { chunkDelayMs: 40, chunks: 25 });
    const running = await openLive(`${harness.url}/api/v1/chat/stream`, streamRequest(chatBody()));
    await running.waitForFrames(2);
    // Connections made before shutdown, each mid-way through its request head.
    const ready = await rawConnect(harness.url);
    const live = await rawConnect(harness.url);
    ready.socket.write('GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    live.socket.write('GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const closing = harness.gateway.close(3000);
    await eventually(() => !harness.gateway.server.listening, 1000, 'shutdown to begin');
    ready.socket.write('\r\n');
    live.socket.write('\r\n');
    const notReady = parseResponse(await ready.waitFor(/\r\n\r\n\{.*\}$/s));
    expect(notReady.status).toBe(503);
    expect(JSON.parse(notReady.body)).toEqual({ status: 'not_ready', reason: 'shutting_down' });
    expect(parseResponse(await live.waitFor(/\r\n\r\n\{.*\}$/s)).status).toBe(200);
    await running.ended;
    await closing;
  });

  it('/readyz answers 503 while the configured Redis is unreachable', async () => {
    const redis = await startRedis();
    const harness = await startTestGateway({ redisUrl: redis.url });
    try {
      expect((await readyz(harness.url)).status).toBe(200);
      await redis.stop();
      let state = await readyz(harness.url);
      for (let attempt = 0; state.status === 200 && attempt < 50; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        state = await readyz(harness.url);
      }
      expect(state).toEqual({ status: 503, body: { status: 'not_ready', reason: 'redis_unreachable' } });
      // Liveness is not readiness: the process still runs.
      expect((await fetch(`${harness.url}/livez`)).status).toBe(200);
    } finally {
      await harness.close();
    }
  });
});
