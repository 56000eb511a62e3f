import { createParser } from 'eventsource-parser';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Frame } from '../protocol/frames.js';
import {
  chunkDataJson,
  chunkDataPrefix,
  DONE_SENTINEL,
  encodeComment,
  encodeData,
  encodeEvent,
  encodeFrame,
  encodeFrameData,
  encodeRetry,
  thinkingDataJson,
  thinkingDataPrefix,
} from './sse-encode.js';

/** Text that tries hard to break SSE framing. */
const hostileText = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.string({
    unit: fc.constantFrom(
      '\n',
      '\r',
      '\r\n',
      '\u2028',
      '\u2029',
      '\u0085',
      '\u0000',
      'a',
      ':',
      ' ',
      'data: ',
      '\ud800',
      '\udfff',
      '\u{1F600}',
      'é',
    ),
  }),
);

function parseAll(text: string): {
  events: { id?: string; event?: string; data: string }[];
  retries: number[];
  comments: string[];
} {
  const events: { id?: string; event?: string; data: string }[] = [];
  const retries: number[] = [];
  const comments: string[] = [];
  const parser = createParser({
    onEvent: (event) => events.push(event),
    onRetry: (retry) => retries.push(retry),
    onComment: (comment) => comments.push(comment),
  });
  parser.feed(text);
  return { events, retries, comments };
}

describe('SSE encoder', () => {
  it('round-trips any text through an independent SSE parser, one event per frame', () => {
    fc.assert(
      fc.property(fc.array(hostileText, { minLength: 1, maxLength: 8 }), (texts) => {
        const frames: Frame[] = texts.map((text) => ({
          event: 'chunk',
          data: { provider: 'openai', model: 'm', delta_text: text, finish_reason: null, usage: null },
        }));
        const wire = frames.map((frame, index) => encodeFrame(index + 1, frame)).join('');
        const { events } = parseAll(wire);
        expect(events).toHaveLength(frames.length);
        events.forEach((event, index) => {
          expect(event.id).toBe(String(index + 1));
          expect(event.event).toBe('chunk');
          expect(event.data.includes('\n')).toBe(false);
          const data = JSON.parse(event.data) as { delta_text: string };
          // Lone surrogates are escaped by JSON.stringify and come back as the same code units.
          expect(data.delta_text).toBe(texts[index]);
        });
      }),
      { numRuns: 500 },
    );
  });

  it('splits nowhere in the data line, even at any chunking of the output', () => {
    fc.assert(
      fc.property(hostileText, fc.array(fc.nat(), { maxLength: 6 }), (text, cuts) => {
        const wire = encodeFrame(7, {
          event: 'thinking',
          data: { provider: 'p', model: 'm', delta_text: text },
        });
        const parsed: string[] = [];
        const parser = createParser({ onEvent: (event) => parsed.push(event.data) });
        let previous = 0;
        for (const cut of [...cuts.map((value) => value % (wire.length + 1))].sort((a, b) => a - b)) {
          parser.feed(wire.slice(previous, cut));
          previous = Math.max(previous, cut);
        }
        parser.feed(wire.slice(previous));
        expect(parsed).toHaveLength(1);
        expect((JSON.parse(parsed[0] ?? '') as { delta_text: string }).delta_text).toBe(text);
      }),
      { numRuns: 300 },
    );
  });

  it('escapes U+2028, U+2029 and U+0085 so line-splitting clients cannot break a frame', () => {
    const json = encodeData({ text: 'a\u2028b\u2029c\u0085d' });
    expect(json).toBe('{"text":"a\\u2028b\\u2029c\\u0085d"}');
    expect(JSON.parse(json)).toEqual({ text: 'a\u2028b\u2029c\u0085d' });
  });

  it('writes retry, comments and the [DONE] sentinel as valid SSE', () => {
    const { retries, comments, events } = parseAll(
      `${encodeRetry(1500)}${encodeFrame(1, { event: 'cancelled', data: { provider: 'p', model: 'm' } })}${encodeComment('ping\r\nx')}${DONE_SENTINEL}`,
    );
    expect(retries).toEqual([1500]);
    expect(comments).toEqual(['ping x']);
    expect(events.map((event) => event.data)).toEqual([
      '{"type":"cancelled","provider":"p","model":"m"}',
      '[DONE]',
    ]);
  });
});

describe('chunk fast path', () => {
  it('writes exactly what the generic encoder writes', () => {
    fc.assert(
      fc.property(hostileText, fc.string(), fc.string(), fc.nat(), (text, provider, model, id) => {
        const frame: Frame = {
          event: 'chunk',
          data: { provider, model, delta_text: text, finish_reason: null, usage: null },
        };
        expect(encodeEvent(id, 'chunk', chunkDataJson(chunkDataPrefix(provider, model), text))).toBe(
          encodeFrame(id, frame),
        );
      }),
      { numRuns: 500 },
    );
  });

  it('writes a thinking frame exactly as the generic encoder does', () => {
    fc.assert(
      fc.property(hostileText, fc.string(), fc.string(), (text, provider, model) => {
        const frame: Frame = { event: 'thinking', data: { provider, model, delta_text: text } };
        expect(thinkingDataJson(thinkingDataPrefix(provider, model), text)).toBe(encodeFrameData(frame));
      }),
      { numRuns: 300 },
    );
  });
});

describe('frame data', () => {
  it('names the frame type first, once, also for a frame read back from its own JSON', () => {
    const frame: Frame = {
      event: 'tool_call',
      data: { provider: 'p', model: 'm', index: 0, id: 'call_1', name: 'f', arguments: '{}' },
    };
    const json = encodeFrameData(frame);
    expect(json).toBe(
      '{"type":"tool_call","provider":"p","model":"m","index":0,"id":"call_1","name":"f","arguments":"{}"}',
    );
    const mirrored = { event: frame.event, data: JSON.parse(json) } as Frame;
    expect(encodeFrameData(mirrored)).toBe(json);
  });

  it('gives a chunk read back from its JSON the same bytes on the fast path', () => {
    fc.assert(
      fc.property(hostileText, fc.string(), fc.string(), (text, provider, model) => {
        const json = chunkDataJson(chunkDataPrefix(provider, model), text);
        const mirrored = { event: 'chunk', data: JSON.parse(json) } as Frame;
        expect(encodeFrameData(mirrored)).toBe(json);
        expect(JSON.parse(json)).toMatchObject({ type: 'chunk', delta_text: text });
      }),
      { numRuns: 300 },
    );
  });
});
