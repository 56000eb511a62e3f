import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Fault } from '../../src/emulators/types.js';
import { CONTINUE_INSTRUCTION } from '../../src/providers/continuation.js';
import { HTTP_PROVIDERS } from '../../src/providers/registry.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { randomOffsets } from '../helpers/replay.js';
import { chatBody, invariantViolation, postStream, type StreamResult, textOf } from '../helpers/sse.js';

/**
 * `recover: true`: an answer whose upstream drops (or goes quiet) after text went out is
 * continued by the same provider from the partial answer, and the client sees every character
 * of the uninterrupted answer exactly once.
 */

let harness: TestGateway;
beforeAll(async () => {
  harness = await startTestGateway({ idleTimeoutMs: 300, maxRetries: 2, retryBaseMs: 5 });
});
afterAll(() => harness.close());
beforeEach(() => harness.emulator.reset());

/** A question per case, so every case streams another answer. */
const question = (index: number): string => `Question number ${index}: why does the stream resume?`;

function body(provider: string, index: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ...chatBody(provider, { thinking_budget: 0, recover: true, ...extra }),
    messages: [{ role: 'user', content: question(index) }],
  };
}

/** The answer the same request gets when nothing goes wrong. */
async function uninterrupted(provider: string, index: number, chunks: number): Promise<StreamResult> {
  harness.emulator.enqueue(provider, { chunks });
  const result = await postStream(harness.url, body(provider, index));
  expect(result.frames.at(-1)?.data.finish_reason).toBe('stop');
  return result;
}

const codePoints = (text: string): number => [...text].length;

/** Checks a recovered stream against the uninterrupted answer; returns the recovered frames. */
function expectWhole(result: StreamResult, expected: string): Record<string, number>[] {
  expect(invariantViolation(result)).toBeUndefined();
  const events = result.frames.map((frame) => frame.event);
  expect(events).not.toContain('error');
  expect(result.frames.at(-1)?.data.finish_reason).toBe('stop');
  expect(textOf(result.frames)).toBe(expected);
  // Each `recovered` frame says how much answer text came before it.
  const recovered: Record<string, number>[] = [];
  let sent = '';
  for (const frame of result.frames) {
    if (frame.event === 'chunk') sent += frame.data.delta_text;
    if (frame.event === 'recovered') {
      expect(frame.data.after_chars).toBe(codePoints(sent));
      recovered.push(frame.data);
    }
  }
  return recovered;
}

/** The partial answer as the continuation request must carry it. */
function carriesPartial(provider: string, partial: string): void {
  const request = JSON.stringify(harness.emulator.stats(provider).bodies.at(-1));
  const style = HTTP_PROVIDERS.find((entry) => entry.id === provider)?.continuation;
  const sent = style === 'prefill' ? partial.trimEnd() : partial;
  expect(request).toContain(JSON.stringify(sent).slice(1, -1));
  if (style === 'instruction') expect(request).toContain(CONTINUE_INSTRUCTION);
}

for (const provider of HTTP_PROVIDERS.map((entry) => entry.id)) {
  describe(`recover: ${provider}`, () => {
    it('at random cut points across many answers, the client assembles the uninterrupted answer', async () => {
      const cases = 10;
      const offsets = randomOffsets(1000, cases * 2, provider.length * 7919 + 17);
      for (let index = 0; index < cases; index++) {
        const chunks = 8 + ((offsets[index * 2] ?? 0) % 30);
        const expected = textOf((await uninterrupted(provider, index, chunks)).frames);
        const cut = 1 + ((offsets[index * 2 + 1] ?? 0) % (chunks - 1));
        harness.emulator.reset();
        harness.emulator.enqueue(
          provider,
          { chunks, fault: { type: 'reset', afterChunks: cut } },
          { chunks },
        );
        const result = await postStream(harness.url, body(provider, index));
        const recovered = expectWhole(result, expected);
        expect(recovered).toEqual([
          expect.objectContaining({ provider, attempt: 1, after_chars: expect.any(Number) }),
        ]);
        expect(harness.emulator.stats(provider).requests).toBe(2);
        const partial = textOf(
          result.frames.slice(
            0,
            result.frames.findIndex((f) => f.event === 'recovered'),
          ),
        );
        carriesPartial(provider, partial);
        expect(result.frames.at(-1)?.data.stats.attempts).toBe(2);
      }
    });

    it('continues after an idle timeout too, and sums the usage of both attempts', async () => {
      const expected = await uninterrupted(provider, 100, 20);
      const reference = expected.frames.at(-1)?.data.usage;
      harness.emulator.reset();
      harness.emulator.enqueue(
        provider,
        { chunks: 20, fault: { type: 'stall', afterChunks: 7 } },
        { chunks: 20 },
      );
      const result = await postStream(harness.url, body(provider, 100));
      expect(expectWhole(result, textOf(expected.frames))).toHaveLength(1);
      const usage = result.frames.at(-1)?.data.usage;
      // Two requests were paid for: both prompts, and the output of each.
      expect(usage.input_tokens).toBeGreaterThan(reference.input_tokens);
      expect(usage.total_tokens).toBe(usage.input_tokens + usage.output_tokens);
    });

    it('continues twice at most, then ends with the error as without recover', async () => {
      const expected = textOf((await uninterrupted(provider, 200, 30)).frames);
      harness.emulator.reset();
      const drop = (afterChunks: number): { chunks: number; fault: Fault } => ({
        chunks: 30,
        fault: { type: 'reset', afterChunks },
      });
      harness.emulator.enqueue(provider, drop(5), drop(4), { chunks: 30 });
      const twice = await postStream(harness.url, body(provider, 200));
      expect(expectWhole(twice, expected).map((frame) => frame.attempt)).toEqual([1, 2]);

      harness.emulator.reset();
      harness.emulator.enqueue(provider, drop(5), drop(4), drop(3), { chunks: 30 });
      const thrice = await postStream(harness.url, body(provider, 200));
      expect(invariantViolation(thrice)).toBeUndefined();
      expect(thrice.frames.filter((frame) => frame.event === 'recovered')).toHaveLength(2);
      expect(thrice.frames.at(-2)?.data).toMatchObject({ code: 'upstream_disconnected', partial: true });
      expect(thrice.frames.at(-1)?.data.finish_reason).toBe('error');
      // What was shown is still a start of the answer, nothing repeated.
      expect(expected.startsWith(textOf(thrice.frames))).toBe(true);
    });
  });
}

describe('recover, beyond the text of one provider', () => {
  it('is off unless asked for: a drop is an error, as in v1', async () => {
    harness.emulator.enqueue('openai', { chunks: 20, fault: { type: 'reset', afterChunks: 5 } });
    const result = await postStream(harness.url, body('openai', 1, { recover: false }));
    expect(result.frames.map((frame) => frame.event)).not.toContain('recovered');
    expect(result.frames.at(-1)?.data.finish_reason).toBe('error');
    expect(harness.emulator.stats('openai').requests).toBe(1);
  });

  it('continues an answer whose stream ended without a finish reason', async () => {
    const expected = textOf((await uninterrupted('together', 400, 16)).frames);
    harness.emulator.reset();
    harness.emulator.enqueue(
      'together',
      { chunks: 16, fault: { type: 'no_finish', afterChunks: 6 } },
      { chunks: 16 },
    );
    const result = await postStream(harness.url, body('together', 400));
    expect(expectWhole(result, expected)).toHaveLength(1);
  });

  it('does not show the reasoning of a continuation again', async () => {
    const reasoning = { ...body('gemini', 300), thinking_budget: null };
    harness.emulator.enqueue('gemini', { chunks: 20, thinkingChunks: 6 });
    const expected = await postStream(harness.url, reasoning);
    harness.emulator.reset();
    harness.emulator.enqueue(
      'gemini',
      { chunks: 20, thinkingChunks: 6, fault: { type: 'reset', afterChunks: 12 } },
      { chunks: 20, thinkingChunks: 6 },
    );
    const result = await postStream(harness.url, reasoning);
    expectWhole(result, textOf(expected.frames));
    const recoveredAt = result.frames.findIndex((frame) => frame.event === 'recovered');
    expect(result.frames.slice(recoveredAt).some((frame) => frame.event === 'thinking')).toBe(false);
    expect(textOf(result.frames, 'thinking')).toBe(textOf(expected.frames, 'thinking'));
  });

  it('never continues a tool call', async () => {
    harness.emulator.enqueue('openai', { fault: { type: 'reset', afterChunks: 1 } });
    const result = await postStream(harness.url, {
      ...body('openai', 2),
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
    });
    expect(result.frames.map((frame) => frame.event)).not.toContain('recovered');
    expect(result.frames.at(-1)?.data.finish_reason).toBe('error');
    expect(harness.emulator.stats('openai').requests).toBe(1);
  });

  it('is refused when it is not a boolean', async () => {
    const result = await postStream(harness.url, body('openai', 3, { recover: 'yes' }));
    expect(result.status).toBe(400);
    expect(result.json.error).toMatchObject({ code: 'invalid_request', field: 'recover' });
  });
});
