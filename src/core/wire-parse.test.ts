import { describe, expect, it } from 'vitest';
import { createNdjsonParser, createSseParser, type WireEvent, type WireParser } from './wire-parse.js';

function run(parser: WireParser, pieces: (string | Uint8Array)[]): WireEvent[] {
  const events: WireEvent[] = [];
  for (const piece of pieces)
    events.push(...parser.push(typeof piece === 'string' ? Buffer.from(piece) : piece));
  events.push(...parser.end());
  return events;
}

function everySplit(text: string): Uint8Array[][] {
  const bytes = Buffer.from(text);
  const variants: Uint8Array[][] = [[bytes]];
  for (let cut = 1; cut < bytes.length; cut++) variants.push([bytes.subarray(0, cut), bytes.subarray(cut)]);
  variants.push([...bytes].map((byte) => Uint8Array.of(byte)));
  return variants;
}

describe('SSE wire parser', () => {
  it('gives the same events for LF, CRLF and CR line endings at every split point', () => {
    const payload = { text: 'héllo 😀' };
    for (const newline of ['\n', '\r\n', '\r']) {
      const text = `\uFEFFevent: delta${newline}data: ${JSON.stringify(payload)}${newline}${newline}: comment${newline}data: [DONE]${newline}${newline}`;
      for (const pieces of everySplit(text)) {
        expect(run(createSseParser(), pieces)).toEqual([
          { type: 'message', event: 'delta', data: payload },
          { type: 'end_marker' },
        ]);
      }
    }
  });

  it('reports data that is not JSON as malformed, not as a crash', () => {
    expect(run(createSseParser(), ['data: {"a":\n\n'])).toEqual([
      { type: 'malformed', reason: 'invalid JSON', excerpt: '{"a":' },
    ]);
  });

  it('accepts events separated by a single LF when each line is JSON', () => {
    expect(run(createSseParser(), ['data: {"a":1}\ndata: {"a":2}\ndata: [DONE]\n'])).toEqual([
      { type: 'message', event: undefined, data: { a: 1 } },
      { type: 'message', event: undefined, data: { a: 2 } },
      { type: 'end_marker' },
    ]);
  });

  it('dispatches a last event cut off by EOF', () => {
    expect(run(createSseParser(), ['data: {"error":{"message":"boom"}}'])).toEqual([
      { type: 'message', event: undefined, data: { error: { message: 'boom' } } },
    ]);
  });

  it('catches a raw JSON error body written without data: prefixes (Gemini)', () => {
    const raw =
      'data: {"a":1}\r\n\r\n{\n  "error": {\n    "code": 503,\n    "status": "UNAVAILABLE"\n  }\n}\n';
    for (const pieces of everySplit(raw)) {
      expect(run(createSseParser(), pieces)).toEqual([
        { type: 'message', event: undefined, data: { a: 1 } },
        { type: 'message', event: undefined, data: { error: { code: 503, status: 'UNAVAILABLE' } } },
      ]);
    }
  });

  it('ignores unknown fields that are not JSON', () => {
    expect(run(createSseParser(), ['foo: bar\ndata: {"a":1}\n\n'])).toEqual([
      { type: 'message', event: undefined, data: { a: 1 } },
    ]);
  });
});

describe('NDJSON wire parser', () => {
  it('splits lines across chunks, inside multi-byte characters, with CRLF and blank lines', () => {
    const text = '{"a":"é😀"}\r\n\n{"b":2}\n{"c":3}';
    for (const pieces of everySplit(text)) {
      expect(run(createNdjsonParser(), pieces)).toEqual([
        { type: 'message', event: undefined, data: { a: 'é😀' } },
        { type: 'message', event: undefined, data: { b: 2 } },
        { type: 'message', event: undefined, data: { c: 3 } },
      ]);
    }
  });

  it('reports a bad line as malformed and goes on', () => {
    expect(run(createNdjsonParser(), ['{"a":1}\nnot json\n{"b":2}\n'])).toEqual([
      { type: 'message', event: undefined, data: { a: 1 } },
      { type: 'malformed', reason: 'invalid JSON', excerpt: 'not json' },
      { type: 'message', event: undefined, data: { b: 2 } },
    ]);
  });
});
