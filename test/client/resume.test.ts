import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type ChatRequestBody,
  SluiceConnectionError,
  SluiceRequestError,
  type StreamFrame,
  streamChat,
} from '../../src/client/index.js';
import type { Gateway } from '../../src/server/gateway.js';
import { type CuttingProxy, emulatorOf, startCuttingProxy, startDemoGateway } from './helpers.js';

const request: ChatRequestBody = {
  provider: 'openai',
  messages: [{ role: 'user', content: 'Tell me more' }],
};
const ANSWER = Array.from({ length: 40 }, (_, index) => `word${index} é€😀`).join(' ');
const fast = { reconnect: { maxAttempts: 5, baseDelayMs: 10, maxDelayMs: 200 } };

async function collect(iterable: AsyncIterable<StreamFrame>): Promise<StreamFrame[]> {
  const frames: StreamFrame[] = [];
  for await (const frame of iterable) frames.push(frame);
  return frames;
}

function chunkText(frames: readonly StreamFrame[]): string {
  return frames.map((frame) => (frame.event === 'chunk' ? frame.data.delta_text : '')).join('');
}

describe('transparent resume across cut connections', () => {
  let gateway: Gateway;
  let proxy: CuttingProxy | undefined;
  let reference: StreamFrame[];

  beforeAll(async () => {
    gateway = await startDemoGateway();
    emulatorOf(gateway).setDefaults({ ttftMs: 5, chunkDelayMs: 3 });
    emulatorOf(gateway).enqueue('openai', { text: ANSWER });
    reference = await collect(await streamChat(request, { baseUrl: gateway.url }));
  });
  afterAll(() => gateway.close(1000));
  beforeEach(() => emulatorOf(gateway).enqueue('openai', { text: ANSWER }));
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });

  it('the uninterrupted reference run is whole', () => {
    expect(chunkText(reference)).toBe(ANSWER);
    expect(reference.at(-1)?.event).toBe('done');
  });

  // Byte counts land in the response head, inside a frame and inside a multi-byte character;
  // several cuts in a row exercise consecutive resumes.
  const cases: { name: string; cuts: number[]; mode: 'end' | 'reset' }[] = [
    { name: 'a clean close mid-frame', cuts: [700], mode: 'end' },
    { name: 'a reset mid-frame', cuts: [1500], mode: 'reset' },
    { name: 'three cuts in a row', cuts: [900, 400, 333], mode: 'reset' },
  ];

  for (const { name, cuts, mode } of cases) {
    it(`yields every frame exactly once after ${name}`, async () => {
      proxy = await startCuttingProxy(gateway.url, cuts, { mode });
      const stream = await streamChat(request, { baseUrl: proxy.url, ...fast });
      const frames = await collect(stream);
      const ids = frames.map((frame) => frame.id);
      expect(ids).toEqual(ids.map((_, index) => index + 1));
      expect(new Set(ids).size).toBe(ids.length);
      expect(frames.map((frame) => frame.event)).toEqual(reference.map((frame) => frame.event));
      expect(chunkText(frames)).toBe(ANSWER);
      expect(stream.text).toBe(chunkText(reference));
      expect(stream.finishReason).toBe('stop');
      expect(proxy.cuts).toBe(cuts.length);
      expect(stream.stats.reconnects).toBeGreaterThanOrEqual(cuts.length);
    });
  }

  it('resumes a connection that goes silent without closing, after idleTimeoutMs', async () => {
    proxy = await startCuttingProxy(gateway.url, [800], { mode: 'stall' });
    const startedAt = Date.now();
    const stream = await streamChat(request, { baseUrl: proxy.url, idleTimeoutMs: 300, ...fast });
    const frames = await collect(stream);
    expect(frames.map((frame) => frame.id)).toEqual(reference.map((frame) => frame.id));
    expect(chunkText(frames)).toBe(ANSWER);
    expect(stream.stats.reconnects).toBe(1);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(300);
  });

  it('reports a connection error when the first response head is cut (nothing to resume yet)', async () => {
    proxy = await startCuttingProxy(gateway.url, [60], { mode: 'end' });
    const error = await streamChat(request, { baseUrl: proxy.url, ...fast }).catch(
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(SluiceConnectionError);
    expect(proxy.cuts).toBe(1);
  });

  it('ends with a typed 404 error when the generation is gone on resume', async () => {
    // Forgetting every generation at the cut plays a gateway restarted without shared storage.
    proxy = await startCuttingProxy(gateway.url, [900], {
      mode: 'reset',
      onCut: () => void gateway.store.close(),
    });
    const stream = await streamChat(request, { baseUrl: proxy.url, ...fast });
    const frames: StreamFrame[] = [];
    const error = await (async () => {
      for await (const frame of stream) frames.push(frame);
    })().then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(SluiceRequestError);
    expect(error).toMatchObject({ status: 404, code: 'not_found' });
    expect(frames.length).toBeGreaterThan(0);
    await expect(stream.result).rejects.toBeInstanceOf(SluiceRequestError);
  });
});
