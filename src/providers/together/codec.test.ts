import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTranscript, replayEverySplit, textOf } from '../../../test/helpers/replay.js';
import { together } from './index.js';

const fixture = (name: string) => join(import.meta.dirname, 'fixtures', name);
const replayFixture = (name: string) =>
  replayEverySplit(together.createCodec, 'sse', readTranscript(fixture(name)));
const sse = (payloads: readonly unknown[]) =>
  Buffer.from(payloads.map((payload) => `data: ${JSON.stringify(payload)}\n\n`).join(''), 'utf8');

describe('Together codec on recorded transcripts', () => {
  it('current format: eos finish with usage on the same chunk, text not doubled by choices[].text', () => {
    const parts = replayFixture('together.txt');
    expect(parts).toEqual([
      {
        type: 'metadata',
        upstreamId: '8b43a5cfadf99e5c-SJC',
        upstreamModel: 'meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo',
      },
      { type: 'text', text: 'ABC' },
      { type: 'text', text: 'ABC' },
      { type: 'usage', usage: { inputTokens: 12, outputTokens: 27 } },
      { type: 'finish', reason: 'stop', rawReason: 'eos' },
    ]);
  });

  it('older 2024 format with a top-level token object: text only, and no finish since none came', () => {
    const parts = replayFixture('together-docs-2024.txt');
    expect(parts[0]).toEqual({ type: 'metadata', upstreamId: '85ffbb8a6d2c4340-EWR', upstreamModel: null });
    expect(textOf(parts, 'text')).toBe(' A: Sure');
    expect(parts.filter((part) => part.type === 'metadata')).toHaveLength(1);
    // The transcript is cut short: the generation layer must see no finish and report `incomplete`.
    expect(parts.some((part) => part.type === 'finish' || part.type === 'error')).toBe(false);
  });
});

describe('Together codec on constructed streams', () => {
  it('a full stream ending in [DONE], with multi-byte text split anywhere', () => {
    const parts = replayFixture('together-full-stream.txt');
    expect(textOf(parts, 'text')).toBe('Bonjour ! Ça va très bien 🙂\nEt vous ?');
    expect(parts.at(-2)).toEqual({ type: 'usage', usage: { inputTokens: 18, outputTokens: 11 } });
    expect(parts.at(-1)).toEqual({ type: 'finish', reason: 'stop', rawReason: 'eos' });
    expect(parts.filter((part) => part.type === 'finish')).toHaveLength(1);
  });

  it('"Model is at capacity" inside the stream is an overloaded error part, never text', () => {
    const parts = replayFixture('together-capacity-error.txt');
    expect(textOf(parts, 'text')).toBe('The answer is');
    expect(parts.at(-1)).toEqual({
      type: 'error',
      code: 'overloaded',
      message: 'Together: Model is at capacity',
      retryable: true,
    });
    expect(parts.some((part) => part.type === 'finish')).toBe(false);
  });

  it('a stream with no usage at all reports no usage part (the gateway estimates)', () => {
    const parts = replayFixture('together-no-usage.txt');
    expect(textOf(parts, 'text')).toBe('Short reply.');
    expect(parts.some((part) => part.type === 'usage')).toBe(false);
    expect(parts.at(-1)).toEqual({ type: 'finish', reason: 'stop', rawReason: 'eos' });
  });

  it('a tool call: start as soon as the name is known, one complete call before the finish', () => {
    const parts = replayFixture('together-toolcall.txt');
    const calls = parts.filter((part) => part.type === 'tool_call_start' || part.type === 'tool_call');
    const id = 'call_k3j9x0q2m4v7b8n1c5z6w0ab';
    expect(calls).toEqual([
      { type: 'tool_call_start', index: 0, id, name: 'get_weather' },
      {
        type: 'tool_call',
        index: 0,
        id,
        name: 'get_weather',
        arguments: '{"city":"Paris, FR","unit":"celsius"}',
      },
    ]);
    expect(parts.findIndex((part) => part.type === 'tool_call_start')).toBe(1);
    expect(parts.at(-1)).toEqual({ type: 'finish', reason: 'tool_calls', rawReason: 'tool_calls' });
    expect(parts).toContainEqual({ type: 'usage', usage: { inputTokens: 212, outputTokens: 24 } });
    expect(textOf(parts, 'text')).toBe('');
  });

  it('a TGI-style {"error": "...", "error_type": "validation"} is a bad_request error part', () => {
    const parts = replayFixture('together-tgi-error.txt');
    expect(textOf(parts, 'text')).toBe('Hi');
    const last = parts.at(-1);
    expect(last).toMatchObject({ type: 'error', code: 'bad_request', retryable: false });
    expect(last?.type === 'error' && last.message.startsWith('Together: Input validation error')).toBe(true);
  });

  it('TGI error kinds: overloaded is retryable overloaded, generation is upstream_error', () => {
    const overloaded = replayEverySplit(
      together.createCodec,
      'sse',
      sse([{ error: 'Model is overloaded', error_type: 'overloaded' }]),
    );
    expect(overloaded).toEqual([
      { type: 'error', code: 'overloaded', message: 'Together: Model is overloaded', retryable: true },
    ]);
    const generation = replayEverySplit(
      together.createCodec,
      'sse',
      sse([{ error: 'Request failed during generation: CUDA error', error_type: 'generation' }]),
    );
    expect(generation).toMatchObject([{ type: 'error', code: 'upstream_error', retryable: true }]);
  });

  it('older format: a top-level finish_reason and usage end the stream', () => {
    const base = { id: '85ffbb8a6d2c4340-EWR', object: 'chat.completion.chunk', created: 1709700707 };
    const parts = replayEverySplit(
      together.createCodec,
      'sse',
      sse([
        {
          ...base,
          choices: [{ index: 0, delta: { content: ' Sure' } }],
          token: { id: 12875, text: ' Sure', logprob: -0.007, special: false },
          finish_reason: null,
          generated_text: null,
          stats: null,
          usage: null,
        },
        {
          ...base,
          choices: [{ index: 0, delta: { content: '' } }],
          token: { id: 2, text: '</s>', logprob: 0, special: true },
          finish_reason: 'eos',
          generated_text: ' Sure',
          stats: null,
          usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 },
        },
      ]),
    );
    expect(textOf(parts, 'text')).toBe(' Sure');
    expect(parts.slice(-2)).toEqual([
      { type: 'usage', usage: { inputTokens: 9, outputTokens: 2 } },
      { type: 'finish', reason: 'stop', rawReason: 'eos' },
    ]);
  });

  it('length finish and malformed JSON', () => {
    const length = replayEverySplit(
      together.createCodec,
      'sse',
      sse([
        { id: 'a-SJC', choices: [{ index: 0, text: 'x', delta: { content: 'x' }, finish_reason: 'length' }] },
      ]),
    );
    expect(length.at(-1)).toEqual({ type: 'finish', reason: 'length', rawReason: 'length' });
    const malformed = replayEverySplit(
      together.createCodec,
      'sse',
      Buffer.from(
        'data: {"id":"a-SJC","choices":[{"index":0,"delta":{"content":"ok"}}]}\n\ndata: {"id":\n\n',
      ),
    );
    expect(textOf(malformed, 'text')).toBe('ok');
    expect(malformed.at(-1)).toMatchObject({ type: 'error', code: 'upstream_error' });
  });
});
