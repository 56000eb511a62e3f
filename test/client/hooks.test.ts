import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type ChatRequestBody,
  type ChatStream,
  type ReconnectEvent,
  type ResumeEvent,
  type StreamFrame,
  type StreamOptions,
  streamChat,
} from '../../src/client/index.js';
import type { Gateway } from '../../src/server/gateway.js';
import { type CuttingProxy, emulatorOf, startCuttingProxy, startDemoGateway } from './helpers.js';

/**
 * `onReconnect` and `onResume` at real dropped connections: a TCP proxy between the client and
 * a demo gateway cuts the stream mid-frame.
 */

const request: ChatRequestBody = { provider: 'openai', messages: [{ role: 'user', content: 'Go on' }] };
const ANSWER = Array.from({ length: 40 }, (_, index) => `word${index} é€😀`).join(' ');
const reconnect = { maxAttempts: 5, baseDelayMs: 10, maxDelayMs: 200 };

type Heard =
  | { hook: 'reconnect'; event: ReconnectEvent; streamLastId: number | undefined }
  | { hook: 'resume'; event: ResumeEvent; streamLastId: number | undefined };

/** Streams through `baseUrl`, recording each hook call with the stream's own last id at that moment. */
async function streamHeard(
  baseUrl: string,
  options: Partial<StreamOptions> = {},
): Promise<{ stream: ChatStream; heard: Heard[] }> {
  const heard: Heard[] = [];
  let stream: ChatStream | undefined;
  stream = await streamChat(request, {
    baseUrl,
    reconnect,
    onReconnect: (event) => heard.push({ hook: 'reconnect', event, streamLastId: stream?.lastEventId }),
    onResume: (event) => heard.push({ hook: 'resume', event, streamLastId: stream?.lastEventId }),
    ...options,
  });
  return { stream, heard };
}

async function collect(stream: ChatStream): Promise<StreamFrame[]> {
  const frames: StreamFrame[] = [];
  for await (const frame of stream) frames.push(frame);
  return frames;
}

describe('reconnect hooks', () => {
  let gateway: Gateway;
  let proxy: CuttingProxy | undefined;

  beforeAll(async () => {
    gateway = await startDemoGateway();
    emulatorOf(gateway).setDefaults({ ttftMs: 5, chunkDelayMs: 3 });
  });
  afterAll(() => gateway.close(1000));
  beforeEach(() => emulatorOf(gateway).enqueue('openai', { text: ANSWER }));
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });

  it('calls onReconnect at a drop, then onResume with the last event id it resumed from', async () => {
    proxy = await startCuttingProxy(gateway.url, [1500], { mode: 'reset' });
    const { stream, heard } = await streamHeard(proxy.url);
    const frames = await collect(stream);

    expect(heard.map((entry) => entry.hook)).toEqual(['reconnect', 'resume']);
    const [dropped, resumed] = heard;
    const lastBeforeCut = dropped?.event.lastEventId ?? 0;
    expect(lastBeforeCut).toBeGreaterThan(0);
    expect(lastBeforeCut).toBeLessThan(frames.length);
    expect(dropped).toEqual({
      hook: 'reconnect',
      event: { attempt: 1, lastEventId: lastBeforeCut, delayMs: expect.any(Number) },
      streamLastId: lastBeforeCut,
    });
    const delayMs = dropped?.hook === 'reconnect' ? dropped.event.delayMs : Number.NaN;
    expect(delayMs).toBeGreaterThanOrEqual(0);
    expect(delayMs).toBeLessThanOrEqual(reconnect.maxDelayMs);
    // Told before any frame of the resumed connection arrived.
    expect(resumed).toEqual({
      hook: 'resume',
      event: { attempt: 1, lastEventId: lastBeforeCut },
      streamLastId: lastBeforeCut,
    });
    // The resumed connection went on from exactly that id.
    expect(frames.map((frame) => frame.id)).toEqual(frames.map((_, index) => index + 1));
    expect(stream.text).toBe(ANSWER);
    expect(proxy.cuts).toBe(1);
    expect(proxy.connections).toBe(2);
  });

  it('calls onReconnect again for each failed attempt and onResume once, for the one that worked', async () => {
    // The first resume is cut inside its response head: a failed attempt, then another.
    proxy = await startCuttingProxy(gateway.url, [1500, 60], { mode: 'end' });
    const { stream, heard } = await streamHeard(proxy.url);
    await collect(stream);

    expect(heard.map((entry) => `${entry.hook} ${entry.event.attempt}`)).toEqual([
      'reconnect 1',
      'reconnect 2',
      'resume 2',
    ]);
    const lastBeforeCut = heard[0]?.event.lastEventId;
    expect(lastBeforeCut).toBeGreaterThan(0);
    for (const entry of heard) expect(entry.event.lastEventId).toBe(lastBeforeCut);
    expect(stream.text).toBe(ANSWER);
    expect(proxy.connections).toBe(3);
    expect(stream.stats.reconnects).toBe(2);
  });

  it('calls neither hook when the connection holds', async () => {
    proxy = await startCuttingProxy(gateway.url, []);
    const { stream, heard } = await streamHeard(proxy.url);
    await collect(stream);
    expect(stream.text).toBe(ANSWER);
    expect(heard).toEqual([]);
    expect(proxy.connections).toBe(1);
  });

  it('ends the stream with the error a hook throws', async () => {
    proxy = await startCuttingProxy(gateway.url, [1500], { mode: 'reset' });
    const thrown = new Error('the page went away');
    const { stream } = await streamHeard(proxy.url, {
      onReconnect: () => {
        throw thrown;
      },
    });
    await expect(collect(stream)).rejects.toBe(thrown);
    await expect(stream.result).rejects.toBe(thrown);
    // No resume was attempted.
    expect(proxy.connections).toBe(1);

    emulatorOf(gateway).enqueue('openai', { text: ANSWER });
    const second = await startCuttingProxy(gateway.url, [1500], { mode: 'reset' });
    try {
      const { stream: resumed } = await streamHeard(second.url, {
        onResume: () => {
          throw thrown;
        },
      });
      await expect(collect(resumed)).rejects.toBe(thrown);
      expect(second.connections).toBe(2);
      expect(resumed.text.length).toBeLessThan(ANSWER.length);
    } finally {
      await second.close();
    }
  });
});
