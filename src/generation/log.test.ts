import { describe, expect, it } from 'vitest';
import { encodeFrameData } from '../core/sse-encode.js';
import type { Frame } from '../protocol/frames.js';
import { Generation } from './generation.js';
import { FrameLog } from './log.js';

const envelope = { provider: 'openai', model: 'gpt-4o-mini' };

const frames: Frame[] = [
  { event: 'start', data: { ...envelope, generation_id: 'g1', created: 1, emulated: false } },
  { event: 'thinking', data: { ...envelope, delta_text: 'Let me think\u2028' } },
  { event: 'thinking_done', data: { ...envelope } } as Frame,
  { event: 'chunk', data: { ...envelope, delta_text: 'Hello', finish_reason: null, usage: null } },
  // Another envelope (not expected within one generation) is kept whole, not rewritten.
  {
    event: 'chunk',
    data: { provider: 'anthropic', model: 'claude', delta_text: ' there', finish_reason: null, usage: null },
  },
  // Read back from JSON (a Redis mirror): carries `type` first.
  {
    event: 'chunk',
    data: { type: 'chunk', ...envelope, delta_text: ' 世界 "q"\n', finish_reason: null, usage: null },
  } as Frame,
  { event: 'error', data: { ...envelope, code: 'timeout', message: 'slow', retryable: true } } as Frame,
];

describe('FrameLog', () => {
  it('gives back every frame and its data JSON exactly, while running and once ended', () => {
    const log = new FrameLog();
    log.append(frames);
    const expectedJson = frames.map((frame) => encodeFrameData(frame));
    const read = (): { json: string[]; events: string[]; texts: (string | undefined)[] } => ({
      json: frames.map((_, index) => log.dataJson(index + 1)),
      events: frames.map((_, index) => log.event(index + 1)),
      texts: frames.map((_, index) => log.text(index + 1)),
    });
    const events = frames.map((frame) => frame.event);
    const texts = frames.map((frame) =>
      frame.event === 'chunk' || frame.event === 'thinking' ? frame.data.delta_text : undefined,
    );
    expect(read()).toEqual({ json: expectedJson, events, texts });
    for (const [index, frame] of frames.entries()) {
      expect(encodeFrameData(log.frame(index + 1))).toBe(encodeFrameData(frame));
    }
    log.end();
    expect(log.ended).toBe(true);
    expect(read()).toEqual({ json: expectedJson, events, texts });
    expect(log.all().map((frame) => encodeFrameData(frame))).toEqual(expectedJson);
    expect(() => log.frame(frames.length + 1)).toThrow(RangeError);
    expect(() => log.event(0)).toThrow(RangeError);
  });

  it('counts a text frame as its text, and ends a generation past its bound', () => {
    const log = new FrameLog(500);
    const chunk = (text: string): Frame => ({
      event: 'chunk',
      data: { ...envelope, delta_text: text, finish_reason: null, usage: null },
    });
    log.append([chunk('a'.repeat(100))]);
    // One byte a character for Latin-1 text, two past U+00FF.
    expect(log.sizeBytes).toBe(140);
    log.append([chunk('é'.repeat(100))]);
    expect(log.sizeBytes).toBe(280);
    log.append([chunk('世'.repeat(100))]);
    expect(log.sizeBytes).toBe(520);
    expect(log.full).toBe(true);
    // Short texts are looked at character by character: the same count.
    const short = new FrameLog();
    short.append([chunk('a'.repeat(10)), chunk('é'.repeat(10)), chunk(`${'a'.repeat(9)}世`)]);
    expect(short.sizeBytes).toBe(3 * 40 + 10 + 10 + 20);
  });

  it('wakes readers once per batch and at the end', () => {
    const log = new FrameLog();
    let calls = 0;
    log.subscribe(() => {
      calls++;
    });
    log.append(frames.slice(0, 3));
    log.append(frames.slice(3));
    log.end();
    expect(calls).toBe(3);
    expect(() => log.append(frames.slice(0, 1))).toThrow();
  });

  it('ends in two steps: closed with its frames still objects for onEnding, then compacted before onEnd', () => {
    const generation = new Generation({
      id: 'g1',
      provider: 'openai',
      model: 'gpt-4o-mini',
      emulated: false,
      maxLogBytes: 1 << 20,
      graceMs: 0,
    });
    const { log } = generation;
    log.append(frames);
    const seen: string[] = [];
    generation.onEnd(() => {
      // Compacted: the error frame is read back from its JSON, a new object equal to the old.
      const error = log.frame(frames.length);
      seen.push(
        `end ${error === frames.at(-1)} ${encodeFrameData(error) === encodeFrameData(frames.at(-1) as Frame)}`,
      );
    });
    let bytesWhileEnding = 0;
    generation.onEnding(() => {
      expect(log.ended).toBe(true);
      bytesWhileEnding = log.sizeBytes;
      // Not yet compacted: the very object appended, not parsed back.
      seen.push(`ending ${log.frame(frames.length) === frames.at(-1)}`);
    });
    const compacted = new FrameLog();
    compacted.append(frames);
    compacted.end();
    generation.markEnded();
    expect(seen).toEqual(['ending true', 'end false true']);
    expect(bytesWhileEnding).not.toBe(compacted.sizeBytes);
    // onEnd sees the bytes the store accounts for: those of the compacted log.
    expect(log.sizeBytes).toBe(compacted.sizeBytes);
    // A listener added after the end is called at once, in either phase.
    let late = 0;
    generation.onEnding(() => late++);
    generation.onEnd(() => late++);
    expect(late).toBe(2);
  });
});
