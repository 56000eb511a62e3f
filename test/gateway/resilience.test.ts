import { EventSource } from 'eventsource';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { openLive, streamRequest } from '../helpers/live.js';
import { startCuttingProxy } from '../helpers/proxy.js';
import { chatBody, parseSse, type ReceivedFrame, readResponse } from '../helpers/sse.js';

let harness: TestGateway;
beforeAll(async () => {
  harness = await startTestGateway({ resumeGraceMs: 3000, clientRetryMs: 50 });
});
afterAll(() => harness.close());
beforeEach(() => harness.emulator.reset());

/** Deterministic pseudo-random numbers for reproducible disconnect points. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32;
  };
}

describe('resume at random disconnect points', () => {
  it('first connection + resumed connections equal the uninterrupted stream, frame for frame', async () => {
    const next = random(42);
    const runs = Array.from({ length: 24 }, (_, run) => run);
    await Promise.all(
      runs.map(async (run) => {
        harness.emulator.enqueue('openai', { chunkDelayMs: 3, chunks: 25 + (run % 7) });
        const assembled: ReceivedFrame[] = [];
        let live = await openLive(
          `${harness.url}/api/v1/chat/stream`,
          streamRequest(chatBody('openai', { model: `gpt-4o-mini` })),
        );
        const id = live.headers.get('x-generation-id');
        // Up to three cuts per stream, each after a random number of frames.
        for (let cut = 0; cut < 3; cut++) {
          const target = assembled.length + 1 + Math.floor(next() * 12);
          await live.waitForFrames(target - assembled.length);
          live.cut();
          await live.ended;
          assembled.push(...live.frames);
          if (assembled.at(-1)?.event === 'done') break;
          live = await openLive(`${harness.url}/api/v1/chat/stream/${id}`, {
            headers: { 'last-event-id': String(assembled.at(-1)?.id ?? 0) },
          });
        }
        if (assembled.at(-1)?.event !== 'done') {
          const rest = await live.ended;
          assembled.push(...parseSse(rest).frames.filter((frame) => frame.id > (assembled.at(-1)?.id ?? 0)));
        }
        const whole = await readResponse(await fetch(`${harness.url}/api/v1/chat/stream/${id}`));
        expect(assembled).toEqual(whole.frames);
      }),
    );
  }, 30_000);
});

describe('a plain EventSource through a connection cut twice', () => {
  it('gets every frame exactly once via its automatic Last-Event-ID reconnection', async () => {
    harness.emulator.enqueue('openai', { chunkDelayMs: 15, chunks: 60 });
    const proxy = await startCuttingProxy(harness.url);
    try {
      const created = await fetch(`${proxy.url}/api/v1/generations`, streamRequest(chatBody()));
      const { stream_url: streamUrl, generation_id: id } = (await created.json()) as {
        stream_url: string;
        generation_id: string;
      };
      const received: { id: string; event: string; data: string }[] = [];
      const source = new EventSource(`${proxy.url}${streamUrl}`);
      const events = ['start', 'metadata', 'chunk', 'error', 'done'];
      const finished = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('EventSource did not finish')), 15_000);
        for (const name of events) {
          source.addEventListener(name, (event) => {
            // EventSource also fires its own `error` (no data) when the connection drops.
            if (event.data === undefined) return;
            received.push({ id: event.lastEventId, event: name, data: event.data });
            if (name === 'done') {
              clearTimeout(timer);
              source.close();
              resolve();
            }
            if (received.length === 10 || received.length === 30) proxy.cutAll();
          });
        }
      });
      await finished;
      expect(proxy.connections).toBeGreaterThanOrEqual(3);
      const whole = await readResponse(await fetch(`${harness.url}/api/v1/chat/stream/${id}`));
      expect(received.map((frame) => Number(frame.id))).toEqual(whole.frames.map((frame) => frame.id));
      expect(received.map((frame) => JSON.parse(frame.data))).toEqual(
        whole.frames.map((frame) => frame.data),
      );
    } finally {
      await proxy.close();
    }
  });
});

describe('no leaks', () => {
  it('returns to the baseline of sockets, timers and generations after a burst of faults', async () => {
    const count = (kind: string): number =>
      process.getActiveResourcesInfo().filter((resource) => resource === kind).length;
    // Taken before the gateway starts, so that nothing the gateway holds counts as normal, and
    // once the runner's own throttled report timer (100 ms, armed as the test starts) has fired.
    await new Promise((resolve) => setTimeout(resolve, 150));
    const baseline = {
      timers: count('Timeout'),
      sockets: count('TCPSocketWrap'),
      servers: count('TCPServerWrap'),
    };
    const gateway = await startTestGateway({ idleTimeoutMs: 200, resumeGraceMs: 0, keepAliveMs: 50 });
    const agent = new Agent({ connections: 20 });
    try {
      const faults = [
        { fault: { type: 'reset' as const, afterChunks: 2 } },
        { fault: { type: 'stall' as const, afterChunks: 1 } },
        { fault: { type: 'http' as const, status: 500 } },
        { fault: { type: 'malformed' as const, afterChunks: 1 } },
        { chunkDelayMs: 20, chunks: 50 },
      ];
      await Promise.all(
        faults.map(async (scenario, index) => {
          gateway.emulator.enqueue('openai', scenario);
          const response = await request(`${gateway.url}/api/v1/chat/stream`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(chatBody('openai', { model: `gpt-4o-mini` })),
            dispatcher: agent,
          });
          if (index === faults.length - 1) {
            // A reader that leaves mid-stream: with no grace period, the upstream is aborted.
            for await (const _ of response.body) break;
            response.body.destroy();
          } else {
            await response.body.text();
          }
        }),
      );
      const deadline = Date.now() + 3000;
      while (gateway.gateway.store.running().length > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(gateway.gateway.store.running().length).toBe(0);
    } finally {
      await agent.close();
      await gateway.close();
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(count('TCPSocketWrap')).toBeLessThanOrEqual(baseline.sockets);
    expect(count('TCPServerWrap')).toBeLessThanOrEqual(baseline.servers);
    expect(count('Timeout')).toBeLessThanOrEqual(baseline.timers);
  });
});
