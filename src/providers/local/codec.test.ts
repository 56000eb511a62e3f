import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTranscript, replayEverySplit, textOf } from '../../../test/helpers/replay.js';
import { createLocalCodec } from './codec.js';
import { encodeLine, type LocalLine } from './wire.js';

const lines = (...items: LocalLine[]) => Buffer.from(items.map(encodeLine).join(''), 'utf8');
const replayLines = (...items: LocalLine[]) => replayEverySplit(createLocalCodec, 'ndjson', lines(...items));

describe('local codec', () => {
  it('start, text with cumulative counts, finish: metadata, text, usage and the mapped finish', () => {
    const parts = replayLines(
      { type: 'queued', position: 1 },
      { type: 'queued', position: 0 },
      { type: 'loading', progress: 0.5 },
      { type: 'start', model: 'tiny.gguf', input_tokens: 25 },
      { type: 'text', text: 'caf', output_tokens: 3 },
      { type: 'text', text: 'é €', output_tokens: 9 },
      { type: 'finish', reason: 'length', stop_reason: 'maxTokens', output_tokens: 9, thinking_tokens: null },
    );
    expect(parts).toEqual([
      { type: 'metadata', upstreamId: null, upstreamModel: 'tiny.gguf', inputTokens: 25 },
      { type: 'usage', usage: { inputTokens: 25 } },
      { type: 'text', text: 'caf' },
      { type: 'usage', usage: { outputTokens: 3 } },
      { type: 'text', text: 'é €' },
      { type: 'usage', usage: { outputTokens: 9 } },
      { type: 'usage', usage: { outputTokens: 9 } },
      { type: 'finish', reason: 'length', rawReason: 'maxTokens' },
    ]);
  });

  it('reasoning segments become thinking with their own count; an end-of-turn stop is stop', () => {
    const parts = replayLines(
      { type: 'start', model: 'qwen3.gguf', input_tokens: 12 },
      { type: 'thinking', text: 'Let me think', output_tokens: 3, thinking_tokens: 3 },
      { type: 'text', text: 'Four.', output_tokens: 6 },
      { type: 'finish', reason: 'stop', stop_reason: 'eogToken', output_tokens: 7, thinking_tokens: 3 },
    );
    expect(textOf(parts, 'thinking')).toBe('Let me think');
    expect(textOf(parts, 'text')).toBe('Four.');
    expect(parts.slice(-2)).toEqual([
      { type: 'usage', usage: { outputTokens: 7, thinkingTokens: 3 } },
      { type: 'finish', reason: 'stop', rawReason: 'eogToken' },
    ]);
  });

  it('an error line is an error part with its code and retryability; nothing after a finish counts', () => {
    expect(
      replayLines(
        { type: 'start', model: 'm.gguf', input_tokens: 1 },
        { type: 'error', code: 'bad_request', message: 'the prompt is too long', retryable: false },
      ).at(-1),
    ).toEqual({ type: 'error', code: 'bad_request', message: 'the prompt is too long', retryable: false });
    const finished = replayLines(
      { type: 'finish', reason: 'stop', stop_reason: 'eogToken', output_tokens: 1, thinking_tokens: null },
      { type: 'text', text: 'late', output_tokens: 2 },
    );
    expect(textOf(finished, 'text')).toBe('');
  });

  it('unknown line types are skipped; malformed lines and unknown codes are errors, not throws', () => {
    const bytes = Buffer.from(
      `${JSON.stringify({ type: 'progress', anything: true })}\n${JSON.stringify({ type: 'text' })}\n`,
    );
    expect(replayEverySplit(createLocalCodec, 'ndjson', bytes)).toEqual([
      {
        type: 'error',
        code: 'internal',
        message: "the local model's stream had a text line without text",
        retryable: false,
      },
    ]);
    const unknownCode = replayEverySplit(
      createLocalCodec,
      'ndjson',
      Buffer.from(`${JSON.stringify({ type: 'error', code: 'nope', message: 'x', retryable: true })}\n`),
    );
    expect(unknownCode).toEqual([{ type: 'error', code: 'internal', message: 'x', retryable: true }]);
    const notJson = replayEverySplit(createLocalCodec, 'ndjson', Buffer.from('{"type":"text",\n'));
    expect(notJson[0]).toMatchObject({ type: 'error', code: 'upstream_error' });
  });

  it('a stream recorded from the tiny model through node-llama-cpp: the same parts however its bytes are split', () => {
    const parts = replayEverySplit(
      createLocalCodec,
      'ndjson',
      readTranscript(join(import.meta.dirname, 'fixtures', 'local-tiny.ndjson')),
    );
    const text = textOf(parts, 'text');
    // Two- and three-byte characters, each made of several byte tokens, arrive whole.
    expect(text).toMatch(/[é€]/);
    expect(text).not.toContain('\uFFFD');
    expect(parts.at(-1)).toMatchObject({ type: 'finish' });
    expect(parts.find((part) => part.type === 'metadata')).toMatchObject({
      upstreamModel: 'sluice-tiny.gguf',
    });
  });
});
