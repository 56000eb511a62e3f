import { encode } from 'gpt-tokenizer/encoding/cl100k_base';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Frame } from '../protocol/frames.js';
import type { CodecPart } from '../providers/types.js';
import { FrameEmitter } from './emitter.js';
import { TokenMeter } from './token-meter.js';
import { loadTokenizer } from './usage.js';

beforeAll(async () => {
  await loadTokenizer();
});

describe('TokenMeter', () => {
  it('counts pieces with cl100k only while live', () => {
    const meter = new TokenMeter();
    meter.add(' the gateway streams');
    expect(meter.tokens).toBe(0);
    meter.live = true;
    meter.add(' the gateway streams');
    expect(meter.tokens).toBe(encode(' the gateway streams').length);
  });

  it('keeps the count of streamed pieces equal to the count of the whole text', () => {
    const meter = new TokenMeter();
    meter.live = true;
    const pieces = [
      'Emulated ',
      'openai ',
      'answer ',
      'to ',
      '"Tell ',
      'me ',
      'a story": ',
      'the',
      ' gateway',
      ' stre',
      'ams',
      ' every',
      '\n\n',
      'token 😀',
      ' as',
      ' soon.',
    ];
    for (const piece of pieces) meter.add(piece);
    expect(meter.tokens).toBe(encode(pieces.join('')).length);
  });

  it("takes the provider's count when it reports one, and goes on counting from there", () => {
    const meter = new TokenMeter();
    meter.live = true;
    meter.add(' one two three four');
    meter.report(40);
    expect(meter.tokens).toBe(40);
    meter.add(' five');
    expect(meter.tokens).toBe(41);
  });

  it('keeps a continued attempt, forgets an abandoned one', () => {
    const meter = new TokenMeter();
    meter.live = true;
    meter.report(7);
    meter.nextAttempt(false);
    expect(meter.tokens).toBe(0);
    meter.report(5);
    meter.nextAttempt(true);
    meter.report(3);
    expect(meter.tokens).toBe(8);
  });

  it('counts a huge piece in bounded time, close to the exact count', () => {
    const meter = new TokenMeter();
    meter.live = true;
    const text = 'word '.repeat(200_000);
    const started = performance.now();
    meter.add(text);
    expect(performance.now() - started).toBeLessThan(200);
    expect(meter.tokens).toBeGreaterThan(150_000);
    expect(meter.tokens).toBeLessThan(250_000);
  });
});

describe('FrameEmitter with a token budget', () => {
  const emitter = (budget: number): FrameEmitter => {
    const created = new FrameEmitter({ provider: 'openai', model: 'm' }, true, () => 0);
    created.budget = budget;
    created.meter.live = true;
    created.beginAttempt({ servedBy: { provider: 'openai', model: 'm' } });
    return created;
  };
  const text = (value: string): CodecPart => ({ type: 'text', text: value });

  it('stops at the part that reaches the budget, within one read', () => {
    const subject = emitter(3);
    const frames: Frame[] = [];
    subject.frames([text(' hello'), text(' hello'), text(' hello'), text(' hello'), text(' hello')], frames);
    expect(frames.filter((frame) => frame.event === 'chunk')).toHaveLength(3);
    expect(subject.budgetHit).toBe(true);
    subject.frames([text(' more')], frames);
    expect(frames).toHaveLength(3);
  });

  it("stops when the provider's own count reaches the budget", () => {
    const subject = emitter(10);
    const frames: Frame[] = [];
    subject.frames([text(' hello'), { type: 'usage', usage: { outputTokens: 12 } }, text(' after')], frames);
    expect(frames.map((frame) => frame.event)).toEqual(['chunk']);
    expect(subject.budgetHit).toBe(true);
    const done = subject.doneFrame(
      'length',
      { input_tokens: 1, output_tokens: 12, thinking_tokens: null, total_tokens: 13, estimated: false },
      1,
      0,
    );
    expect(done.event === 'done' && done.data.stats.budget_hit).toBe(true);
  });
});
