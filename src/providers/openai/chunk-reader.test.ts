import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { createPartStream } from '../../generation/pipeline.js';
import { ContentDelta, createChunkReader } from './chunk-reader.js';
import { createOpenAiCodec } from './codec.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const TOGETHER_FIXTURES = join(import.meta.dirname, '..', 'together', 'fixtures');

/** The JSON data of every recorded event, in order, one array per recorded stream. */
function recordedStreams(): string[][] {
  const streams: string[][] = [];
  for (const directory of [FIXTURES, TOGETHER_FIXTURES]) {
    for (const name of readdirSync(directory)) {
      const events = readFileSync(join(directory, name), 'utf8')
        .split('\n')
        .map((line) => (line.startsWith('data: ') ? line.slice(6) : line))
        .filter((line) => line.startsWith('{'));
      if (events.length > 0) streams.push(events);
    }
  }
  return streams;
}

/** What a read returns, with a content chunk's value built: what JSON.parse returns. */
function reader(): (text: string) => unknown {
  const read = createChunkReader();
  return (text) => {
    const value = read(text);
    return value instanceof ContentDelta ? value.value() : value;
  };
}

/** A modern OpenAI content chunk, as the recorded ones are, with its two changing strings. */
function contentChunk(content: string, obfuscation: string | undefined): string {
  const chunk: Record<string, unknown> = {
    id: 'chatcmpl-D8Z5oo6uDh67AD85p73ksdT1KxhE0',
    object: 'chat.completion.chunk',
    created: 1770933892,
    model: 'gpt-4.1-nano-2025-04-14',
    service_tier: 'default',
    system_fingerprint: 'fp_de604bd877',
    choices: [{ index: 0, delta: { content }, logprobs: null, finish_reason: null }],
    usage: null,
  };
  if (obfuscation !== undefined) chunk.obfuscation = obfuscation;
  return JSON.stringify(chunk);
}

/** Text meant to break the template: quotes, escapes, control characters, keys inside strings. */
const awkwardText = fc.string({
  unit: fc.constantFrom(
    'a',
    ' ',
    '"',
    '\\',
    '\n',
    '\u0000',
    '\u001f',
    'é',
    '\u{1F600}',
    '"content":"',
    '"obfuscation":"',
    '}',
    ',',
  ),
});

describe('OpenAI chunk reader', () => {
  it('reads every recorded stream exactly as JSON.parse does', () => {
    const streams = recordedStreams();
    expect(streams.length).toBeGreaterThan(5);
    for (const events of streams) {
      const read = reader();
      for (const text of events) expect(read(text)).toStrictEqual(JSON.parse(text));
    }
  });

  it('gives the codec the same parts as JSON.parse does, over every recorded stream', () => {
    let deltas = 0;
    for (const events of recordedStreams()) {
      const bytes = events.map((text) => Buffer.from(`data: ${text}\n\n`));
      const read = createChunkReader();
      const counting = (text: string): unknown => {
        const value = read(text);
        if (value instanceof ContentDelta) deltas++;
        return value;
      };
      const fast = createPartStream({
        framing: 'sse',
        createCodec: createOpenAiCodec,
        createJsonReader: () => counting,
      });
      const plain = createPartStream({ framing: 'sse', createCodec: createOpenAiCodec });
      for (const piece of bytes) expect(fast.push(piece)).toStrictEqual(plain.push(piece));
      expect(fast.end()).toStrictEqual(plain.end());
    }
    expect(deltas).toBeGreaterThan(5);
  });

  it('hands back a content delta only for chunks that carry content alone', () => {
    const shaped = (
      extra: Record<string, unknown>,
      choiceExtra: Record<string, unknown>,
      content: string,
    ): string =>
      JSON.stringify({
        id: 'c1',
        model: 'm',
        choices: [{ index: 0, delta: { content, ...choiceExtra }, finish_reason: null, ...extra }],
      });
    const cases: [string, (content: string) => string, boolean][] = [
      ['content alone', (content) => shaped({}, {}, content), true],
      ['a role beside it', (content) => shaped({}, { role: 'assistant' }, content), true],
      ['a finish reason', (content) => shaped({ finish_reason: 'stop' }, {}, content), false],
      ['a refusal', (content) => shaped({}, { refusal: 'no' }, content), false],
      ['reasoning', (content) => shaped({}, { reasoning_content: 'hmm' }, content), false],
      ['another choice', (content) => shaped({ index: 1 }, {}, content), false],
      [
        'usage',
        (content) => shaped({}, {}, content).replace('"model"', '"usage":{"completion_tokens":3},"model"'),
        false,
      ],
    ];
    for (const [name, chunk, delta] of cases) {
      const read = createChunkReader();
      read(chunk('first'));
      const second = read(chunk('second'));
      expect(second instanceof ContentDelta, name).toBe(delta);
      const parts = (reader: (() => (text: string) => unknown) | undefined) => {
        const stream = createPartStream({
          framing: 'sse',
          createCodec: createOpenAiCodec,
          ...(reader ? { createJsonReader: reader } : {}),
        });
        return ['first', 'second', 'third'].flatMap((content) =>
          stream.push(Buffer.from(`data: ${chunk(content)}\n\n`)),
        );
      };
      expect(parts(createChunkReader), name).toStrictEqual(parts(undefined));
    }
  });

  it('is not misled by a key spelled with an escape, a string that reads "content", or a repeated key', () => {
    const streams = [
      // The delta's key escaped, another object's written plainly, with the same value at first.
      [
        '{"choices":[{"index":0,"delta":{"\\u0063ontent":"x"}}],"other":{"content":"x"}}',
        '{"choices":[{"index":0,"delta":{"\\u0063ontent":"x"}}],"other":{"content":"zz"}}',
      ],
      [
        '{"choices":[{"index":0,"delta":{"content":"a"}}],"kind":"content"}',
        '{"choices":[{"index":0,"delta":{"content":"b"}}],"kind":"content"}',
      ],
      [
        '{"choices":[{"index":0,"delta":{"content":"a","content":"a"}}]}',
        '{"choices":[{"index":0,"delta":{"content":"b","content":"a"}}]}',
      ],
    ];
    for (const events of streams) {
      const read = reader();
      for (const text of events) expect(read(text)).toStrictEqual(JSON.parse(text));
    }
  });

  it('reads chunks that differ from the last content chunk in their strings, or in anything', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            content: fc.oneof(fc.string(), awkwardText),
            obfuscation: fc.option(fc.oneof(fc.string(), awkwardText), { nil: undefined }),
            // Some chunks are edited by hand: raw text that may not even be JSON any more.
            edit: fc.option(
              fc.tuple(fc.nat(), fc.constantFrom('', '"', '\\', 'x', '}', ' ', '\n', '\u0001')),
              {
                nil: undefined,
              },
            ),
          }),
          { maxLength: 12 },
        ),
        (chunks) => {
          const read = reader();
          for (const { content, obfuscation, edit } of chunks) {
            let text = contentChunk(content, obfuscation);
            if (edit !== undefined) {
              const at = edit[0] % (text.length + 1);
              text = `${text.slice(0, at)}${edit[1]}${text.slice(at + 1)}`;
            }
            let expected: unknown;
            try {
              expected = JSON.parse(text);
            } catch {
              expect(() => read(text)).toThrow();
              continue;
            }
            expect(read(text)).toStrictEqual(expected);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('parses the first content chunk, reads the ones like it without JSON.parse, each its own objects', () => {
    const read = reader();
    const parse = vi.spyOn(JSON, 'parse');
    try {
      const first = read(contentChunk('Hello', 'abc')) as { choices: { delta: { content: string } }[] };
      const second = read(contentChunk(' world', 'defgh')) as typeof first;
      const third = read(contentChunk('!', 'x')) as typeof first;
      expect(parse).toHaveBeenCalledTimes(1);
      // A raw control character or line break inside the string is not JSON, after a template too.
      for (const raw of ['a\u0001b', 'a\nb']) {
        expect(() => read(contentChunk('PLACE', 'x').replace('PLACE', raw))).toThrow(SyntaxError);
      }
      parse.mockClear();
      read(contentChunk('again', 'x'));
      expect(parse).toHaveBeenCalledTimes(0);
      // An escape is left to JSON.parse.
      const fourth = read(contentChunk('say "hi"', 'x')) as typeof first;
      expect(parse).toHaveBeenCalledTimes(1);
      expect([first, second, third, fourth].map((chunk) => chunk.choices[0]?.delta.content)).toEqual([
        'Hello',
        ' world',
        '!',
        'say "hi"',
      ]);
      expect(second.choices).not.toBe(first.choices);
      expect(third.choices[0]).not.toBe(second.choices[0]);
      expect(first.choices[0]?.delta.content).toBe('Hello');
    } finally {
      parse.mockRestore();
    }
  });

  it('keeps no content string tied to the text of the chunk it came from', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    // A chunk of 5,000 characters around a long delta: a view into it would keep all of it.
    const padding = 'p'.repeat(5000);
    // Long deltas, and short ones (which V8 copies when slicing), alike.
    for (const delta of [(index: number) => `a long delta number ${index}`, (index: number) => `d${index}`]) {
      const read = reader();
      read(contentChunk('first content here', padding));
      gc();
      const before = process.memoryUsage().heapUsed;
      const kept: string[] = [];
      for (let index = 0; index < 20_000; index++) {
        const chunk = read(contentChunk(delta(index), padding)) as {
          choices: { delta: { content: string } }[];
        };
        kept.push(chunk.choices[0]?.delta.content ?? '');
      }
      gc();
      const bytesPerDelta = (process.memoryUsage().heapUsed - before) / kept.length;
      expect(kept[19_999]).toBe(delta(19_999));
      expect(bytesPerDelta).toBeLessThan(1000);
    }
  });

  it('gives the codec what JSON.parse gives, in whole events or cut anywhere, beside comments, event names and CRLF', () => {
    const event = (text: string, lineEnd: string): string => `data: ${text}${lineEnd}${lineEnd}`;
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            content: fc.oneof(fc.string(), awkwardText, fc.constantFrom('héllo', '世界', '\u{1F600}!')),
            obfuscation: fc.option(fc.oneof(fc.string(), awkwardText), { nil: undefined }),
            // Now and then something else between the chunks: a comment, an event name, CRLF.
            extra: fc.constantFrom('', '', '', ': ping\n\n', 'event: message\n', 'event: error\n', '\r\n'),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        (chunks, cuts, wholeEvents) => {
          // An extra goes in a read of its own when each event has one.
          const texts = chunks.flatMap(({ content, obfuscation, extra }) => {
            const chunk = contentChunk(content, obfuscation);
            if (extra === '\r\n') return [event(chunk, '\r\n')];
            return extra === '' ? [event(chunk, '\n')] : [extra, event(chunk, '\n')];
          });
          const stream = Buffer.from(texts.join(''));
          // Either each event in its own read, or the stream cut anywhere.
          const reads: Buffer[] = [];
          if (wholeEvents) {
            for (const text of texts) reads.push(Buffer.from(text));
          } else {
            let at = 0;
            for (let index = 0; at < stream.length; index++) {
              const size = cuts[index % cuts.length] ?? 1;
              reads.push(stream.subarray(at, at + size));
              at += size;
            }
          }
          const fast = createPartStream({
            framing: 'sse',
            createCodec: createOpenAiCodec,
            createJsonReader: createChunkReader,
          });
          const plain = createPartStream({ framing: 'sse', createCodec: createOpenAiCodec });
          for (const piece of reads) expect(fast.push(piece)).toStrictEqual(plain.push(piece));
          expect(fast.end()).toStrictEqual(plain.end());
        },
      ),
      { numRuns: 400 },
    );
  });

  it('reads a chunk like one that came as an error event as a whole chunk, metadata and all', () => {
    const reads = [
      `event: error\ndata: ${contentChunk('first', 'pad')}\n\n`,
      `data: ${contentChunk('second', 'pad')}\n\n`,
      `data: ${contentChunk('third', 'pad')}\n\n`,
    ].map((text) => Buffer.from(text));
    const fast = createPartStream({
      framing: 'sse',
      createCodec: createOpenAiCodec,
      createJsonReader: createChunkReader,
    });
    const plain = createPartStream({ framing: 'sse', createCodec: createOpenAiCodec });
    const parts = reads.map((read) => fast.push(read));
    expect(parts).toStrictEqual(reads.map((read) => plain.push(read)));
    expect(parts[1]?.[0]?.type).toBe('metadata');
  });
});
