import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTranscript, replayEverySplit, textOf } from '../../../test/helpers/replay.js';
import { ollama } from './index.js';

const fixture = (name: string) => join(import.meta.dirname, 'fixtures', name);
const replayFixture = (name: string) =>
  replayEverySplit(ollama.createCodec, 'ndjson', readTranscript(fixture(name)));
const ndjson = (lines: readonly unknown[]) =>
  Buffer.from(lines.map((line) => `${JSON.stringify(line)}\n`).join(''), 'utf8');

describe('Ollama codec on the recorded transcript', () => {
  it('tinydolphin /api/chat: metadata once, text, usage, finish stop', () => {
    const parts = replayFixture('ollama.ndjson');
    expect(parts).toEqual([
      { type: 'metadata', upstreamId: '2025-01-22T11:22:42.180546Z', upstreamModel: 'tinydolphin' },
      { type: 'text', text: ' The' },
      { type: 'text', text: ' capital' },
      { type: 'usage', usage: { inputTokens: 36, outputTokens: 8 } },
      { type: 'finish', reason: 'stop', rawReason: 'stop' },
    ]);
  });
});

describe('Ollama codec on constructed streams', () => {
  it('thinking then content, with multi-byte text split anywhere', () => {
    const parts = replayFixture('ollama-thinking.ndjson');
    expect(textOf(parts, 'thinking')).toBe('Okay, the user asks for 2+2. That is 4.');
    expect(textOf(parts, 'text')).toBe('2 + 2 = **4**. ✅');
    const lastThinking = parts.findLastIndex((part) => part.type === 'thinking');
    const firstText = parts.findIndex((part) => part.type === 'text');
    expect(lastThinking).toBeLessThan(firstText);
    expect(parts.filter((part) => part.type === 'metadata')).toEqual([
      { type: 'metadata', upstreamId: '2025-06-01T09:15:10.123456789Z', upstreamModel: 'qwen3:8b' },
    ]);
    expect(parts.slice(-2)).toEqual([
      { type: 'usage', usage: { inputTokens: 17, outputTokens: 42 } },
      { type: 'finish', reason: 'stop', rawReason: 'stop' },
    ]);
  });

  it('tool calls arrive whole: start and complete call each, arguments as JSON text, indexes in order', () => {
    const parts = replayFixture('ollama-toolcalls.ndjson');
    const calls = parts.filter((part) => part.type === 'tool_call_start' || part.type === 'tool_call');
    expect(calls).toEqual([
      { type: 'tool_call_start', index: 0, id: 'call_x8k2m9qa', name: 'get_weather' },
      {
        type: 'tool_call',
        index: 0,
        id: 'call_x8k2m9qa',
        name: 'get_weather',
        arguments: '{"city":"Paris","unit":"celsius"}',
      },
      { type: 'tool_call_start', index: 1, id: 'call_p3n7v1zt', name: 'get_time' },
      {
        type: 'tool_call',
        index: 1,
        id: 'call_p3n7v1zt',
        name: 'get_time',
        arguments: '{"zone":"Europe/Paris"}',
      },
    ]);
    // Ollama says `stop`; the generation layer turns it into `tool_calls` because calls were emitted.
    expect(parts.at(-1)).toEqual({ type: 'finish', reason: 'stop', rawReason: 'stop' });
  });

  it('older tool calls without ids get stable ids, and indexes count across lines', () => {
    const parts = replayEverySplit(
      ollama.createCodec,
      'ndjson',
      ndjson([
        { model: 'llama3.1', message: { role: 'assistant', content: 'Let me check. ' }, done: false },
        {
          model: 'llama3.1',
          message: {
            role: 'assistant',
            content: '',
            tool_calls: [{ function: { name: 'a', arguments: {} } }],
          },
          done: false,
        },
        {
          model: 'llama3.1',
          message: {
            role: 'assistant',
            content: '',
            tool_calls: [{ function: { name: 'b', arguments: { n: 1 } } }],
          },
          done: false,
        },
        { model: 'llama3.1', message: { role: 'assistant', content: '' }, done: true },
      ]),
    );
    expect(parts.filter((part) => part.type === 'tool_call')).toEqual([
      { type: 'tool_call', index: 0, id: 'call_0', name: 'a', arguments: '{}' },
      { type: 'tool_call', index: 1, id: 'call_1', name: 'b', arguments: '{"n":1}' },
    ]);
    // A bare `done: true` (no done_reason, no counters): finish stop, no usage.
    expect(parts.at(-1)).toEqual({ type: 'finish', reason: 'stop', rawReason: 'stop' });
    expect(parts.some((part) => part.type === 'usage')).toBe(false);
  });

  it('done_reason length', () => {
    const parts = replayFixture('ollama-length.ndjson');
    expect(textOf(parts, 'text')).toBe('Once upon a time');
    expect(parts.slice(-2)).toEqual([
      { type: 'usage', usage: { inputTokens: 12, outputTokens: 4 } },
      { type: 'finish', reason: 'length', rawReason: 'length' },
    ]);
  });

  it('an error line after some content is an error part, never text, and no finish', () => {
    const parts = replayFixture('ollama-error-after-content.ndjson');
    expect(textOf(parts, 'text')).toBe('The capital of');
    expect(parts.at(-1)).toEqual({
      type: 'error',
      code: 'upstream_error',
      message: 'Ollama: an error was encountered while running the model: unexpected EOF',
      retryable: true,
    });
    expect(parts.some((part) => part.type === 'finish')).toBe(false);
  });

  it('a stream that ends without done: true has no finish (the generation layer reports incomplete)', () => {
    const parts = replayFixture('ollama-no-done.ndjson');
    expect(textOf(parts, 'text')).toBe('Half an answer');
    expect(
      parts.some((part) => part.type === 'finish' || part.type === 'error' || part.type === 'usage'),
    ).toBe(false);
  });

  it('"model ... not found" in the stream is bad_request and not retryable; a status field is honoured', () => {
    const notFound = replayEverySplit(
      ollama.createCodec,
      'ndjson',
      ndjson([{ error: "model 'llama9' not found, try pulling it first" }]),
    );
    expect(notFound).toEqual([
      {
        type: 'error',
        code: 'bad_request',
        message: "Ollama: model 'llama9' not found, try pulling it first",
        retryable: false,
      },
    ]);
    const withStatus = replayEverySplit(
      ollama.createCodec,
      'ndjson',
      ndjson([{ error: 'registry.ollama.ai/library/x does not support tools', status: 400 }]),
    );
    expect(withStatus).toMatchObject([{ type: 'error', code: 'bad_request', retryable: false }]);
  });

  it('/api/generate lines (response, top-level thinking) stream the same way', () => {
    const parts = replayEverySplit(
      ollama.createCodec,
      'ndjson',
      ndjson([
        {
          model: 'gpt-oss:20b',
          created_at: '2025-08-06T10:00:00.1Z',
          response: '',
          thinking: 'Hmm.',
          done: false,
        },
        { model: 'gpt-oss:20b', created_at: '2025-08-06T10:00:00.2Z', response: 'The', done: false },
        { model: 'gpt-oss:20b', created_at: '2025-08-06T10:00:00.3Z', response: ' end.', done: false },
        {
          model: 'gpt-oss:20b',
          created_at: '2025-08-06T10:00:00.4Z',
          response: '',
          done: true,
          done_reason: 'stop',
          context: [1, 2, 3],
          prompt_eval_count: 70,
          eval_count: 9,
        },
      ]),
    );
    expect(textOf(parts, 'thinking')).toBe('Hmm.');
    expect(textOf(parts, 'text')).toBe('The end.');
    expect(parts.slice(-2)).toEqual([
      { type: 'usage', usage: { inputTokens: 70, outputTokens: 9 } },
      { type: 'finish', reason: 'stop', rawReason: 'stop' },
    ]);
  });

  it('load and unload end normally; only the first done counts', () => {
    const parts = replayEverySplit(
      ollama.createCodec,
      'ndjson',
      ndjson([
        { model: 'llama3.2', message: { role: 'assistant', content: '' }, done_reason: 'load', done: true },
        {
          model: 'llama3.2',
          message: { role: 'assistant', content: 'late' },
          done_reason: 'unload',
          done: true,
        },
      ]),
    );
    expect(parts).toEqual([
      { type: 'metadata', upstreamId: null, upstreamModel: 'llama3.2' },
      { type: 'finish', reason: 'stop', rawReason: 'load' },
    ]);
  });

  it('a malformed line or a non-object line is an error part, CRLF line ends are accepted', () => {
    const malformed = replayEverySplit(
      ollama.createCodec,
      'ndjson',
      Buffer.from(
        '{"model":"m","message":{"role":"assistant","content":"ok"},"done":false}\r\n{"model":"m","mess\n',
      ),
    );
    expect(textOf(malformed, 'text')).toBe('ok');
    expect(malformed.at(-1)).toMatchObject({ type: 'error', code: 'upstream_error', retryable: true });
    const notObject = replayEverySplit(ollama.createCodec, 'ndjson', Buffer.from('[1,2]\n'));
    expect(notObject).toMatchObject([{ type: 'error', code: 'upstream_error' }]);
  });
});
