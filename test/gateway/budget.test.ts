import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TokenMeter } from '../../src/generation/token-meter.js';
import { HTTP_PROVIDERS } from '../../src/providers/registry.js';
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import {
  chatBody,
  invariantViolation,
  parseSse,
  postStream,
  type ReceivedFrame,
  readTimed,
} from '../helpers/sse.js';

/**
 * `token_budget`: output tokens are counted as they stream, and at the budget the upstream is
 * cut at once and the stream ends with `length` and `stats.budget_hit`.
 */

let harness: TestGateway;
beforeAll(async () => {
  harness = await startTestGateway();
});
afterAll(() => harness.close());
beforeEach(() => harness.emulator.reset());

const CONTENT = new Set(['thinking', 'chunk', 'tool_call']);

/** Tokens of the output text of content frames, counted piece by piece with the gateway's estimator. */
function tokensOf(frames: readonly ReceivedFrame[]): number {
  const meter = new TokenMeter();
  meter.live = true;
  for (const frame of frames) {
    if (frame.event === 'tool_call') {
      meter.add(frame.data.name);
      meter.add(frame.data.arguments);
    } else meter.add(frame.data.delta_text);
  }
  return meter.tokens;
}

describe('token_budget', () => {
  for (const provider of HTTP_PROVIDERS.map((entry) => entry.id)) {
    it(`${provider}: ends with length and budget_hit at the budget, and the upstream is cut at once`, async () => {
      // Paced and long, so the upstream is still writing when the budget is reached.
      harness.emulator.enqueue(provider, { chunkDelayMs: 15, chunks: 400 });
      const { frames, raw } = await readTimed(harness.url, chatBody(provider, { token_budget: 20 }));
      expect(
        invariantViolation({ ...parseSse(raw), status: 200, headers: new Headers(), raw, json: undefined }),
      ).toBeUndefined();
      const done = frames.at(-1)?.data;
      expect(done.finish_reason).toBe('length');
      expect(done.stats.budget_hit).toBe(true);
      expect(frames.some((frame) => frame.event === 'error')).toBe(false);

      // At most one frame past the budget: everything before the last content frame stays
      // under it. (A provider that reports its own running count, as Gemini does, may reach
      // the budget sooner than this count: its count wins.)
      const content = frames.filter((frame) => CONTENT.has(frame.event));
      expect(content.length).toBeGreaterThan(0);
      expect(tokensOf(content.slice(0, -1))).toBeLessThan(20);
      // A provider that counts fewer tokens than the estimator may go a little past 20 by this
      // count, never more than the one frame.
      expect(tokensOf(content)).toBeGreaterThanOrEqual(content.length > 1 ? 15 : 1);

      // The emulator saw its socket closed, within 100 ms of the last frame.
      await eventually(() => harness.emulator.stats(provider).closedByClient === 1, 2000, 'upstream closed');
      const closedAt = harness.emulator.stats(provider).lastClientCloseAt ?? 0;
      const last = content.at(-1);
      expect(Math.abs(closedAt - (last?.at ?? 0))).toBeLessThan(100);
    });
  }

  it('is reported as not hit when the answer ends first, and absent without a budget', async () => {
    const within = await postStream(harness.url, chatBody('openai', { token_budget: 10_000 }));
    expect(within.frames.at(-1)?.data).toMatchObject({
      finish_reason: 'stop',
      stats: { budget_hit: false },
    });
    const without = await postStream(harness.url, chatBody('openai'));
    expect(without.frames.at(-1)?.data.stats).not.toHaveProperty('budget_hit');
  });

  it('counts reasoning too: a budget smaller than the reasoning ends before any answer', async () => {
    harness.emulator.enqueue('gemini', { chunkDelayMs: 10, thinkingChunks: 60, chunks: 50 });
    const { frames } = await readTimed(harness.url, chatBody('gemini', { token_budget: 10 }));
    expect(frames.filter((frame) => frame.event === 'chunk')).toEqual([]);
    expect(frames.filter((frame) => frame.event === 'thinking').length).toBeGreaterThan(0);
    expect(frames.at(-1)?.data).toMatchObject({ finish_reason: 'length', stats: { budget_hit: true } });
  });

  it('is refused when it is not a positive integer', async () => {
    for (const value of [0, -1, 2.5, '20']) {
      const result = await postStream(harness.url, chatBody('openai', { token_budget: value }));
      expect(result.status).toBe(400);
      expect(result.json.error).toMatchObject({ code: 'invalid_request', field: 'token_budget' });
    }
  });
});
