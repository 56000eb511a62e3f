import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chunksToSse, readTranscript, replayEverySplit, textOf } from '../../../test/helpers/replay.js';
import { createOpenAiCodec } from './codec.js';

const fixture = (name: string) => join(import.meta.dirname, 'fixtures', name);
const codec = () => createOpenAiCodec('OpenAI');

describe('OpenAI codec on recorded transcripts', () => {
  it('plain text (gpt-4-0314, single-LF separated events)', () => {
    const parts = replayEverySplit(codec, 'sse', readTranscript(fixture('openai-text.txt')));
    expect(parts[0]).toEqual({
      type: 'metadata',
      upstreamId: 'chatcmpl-6wdIE4DsUtqf1srdMTsfkJp0VWZgz',
      upstreamModel: 'gpt-4-0314',
    });
    expect(textOf(parts, 'text')).toBe('Hello! How can I help you today?');
    expect(parts.at(-1)).toEqual({ type: 'finish', reason: 'stop', rawReason: 'stop' });
    expect(parts.some((part) => part.type === 'error')).toBe(false);
  });

  it('modern chunks with obfuscation padding and a usage-only chunk', () => {
    const raw = readTranscript(fixture('openai-text-modern.excerpt.txt')).toString('utf8');
    const parts = replayEverySplit(codec, 'sse', chunksToSse(raw));
    expect(parts).toContainEqual({ type: 'finish', reason: 'stop', rawReason: 'stop' });
    expect(parts.at(-1)).toEqual({
      type: 'usage',
      usage: { inputTokens: 16, outputTokens: 300, thinkingTokens: 0 },
    });
  });

  it('a tool call whose arguments arrive in fragments', () => {
    const parts = replayEverySplit(codec, 'sse', readTranscript(fixture('openai-toolcalls.txt')));
    const calls = parts.filter((part) => part.type === 'tool_call_start' || part.type === 'tool_call');
    expect(calls).toEqual([
      { type: 'tool_call_start', index: 0, id: 'call_9ctHOJqO3bYrpm2A6S7nHd5k', name: 'get_current_weather' },
      {
        type: 'tool_call',
        index: 0,
        id: 'call_9ctHOJqO3bYrpm2A6S7nHd5k',
        name: 'get_current_weather',
        arguments: '{"location":"Boston, MA"}',
      },
    ]);
    expect(parts).toContainEqual({ type: 'finish', reason: 'tool_calls', rawReason: 'tool_calls' });
    expect(parts).toContainEqual({ type: 'usage', usage: { inputTokens: 83, outputTokens: 17 } });
  });

  it('parallel tool calls interleaved by index', () => {
    const parts = replayEverySplit(codec, 'sse', readTranscript(fixture('openai-parallel-toolcalls.txt')));
    const starts = parts.filter((part) => part.type === 'tool_call_start');
    expect(starts).toEqual([
      { type: 'tool_call_start', index: 0, id: 'call_A', name: 'get_weather' },
      { type: 'tool_call_start', index: 1, id: 'call_B', name: 'get_time' },
    ]);
    const complete = parts.filter((part) => part.type === 'tool_call');
    expect(complete).toEqual([
      { type: 'tool_call', index: 0, id: 'call_A', name: 'get_weather', arguments: '{"city": "Paris"}' },
      { type: 'tool_call', index: 1, id: 'call_B', name: 'get_time', arguments: '{"zone": "CET"}' },
    ]);
    // Complete calls come before the finish part, and starts before any completion.
    const finishAt = parts.findIndex((part) => part.type === 'finish');
    expect(parts.findIndex((part) => part.type === 'tool_call')).toBeLessThan(finishAt);
  });

  it('content_filter finish', () => {
    const parts = replayEverySplit(codec, 'sse', readTranscript(fixture('openai-content-filter.txt')));
    expect(textOf(parts, 'text')).toBe('Here is how');
    expect(parts).toContainEqual({ type: 'finish', reason: 'content_filter', rawReason: 'content_filter' });
  });

  it('an error object inside the stream becomes an error part', () => {
    const parts = replayEverySplit(codec, 'sse', readTranscript(fixture('openai-error-midstream.txt')));
    expect(parts).toEqual([
      {
        type: 'error',
        code: 'upstream_error',
        message: 'OpenAI: The server had an error while processing your request. Sorry about that!',
        retryable: true,
      },
    ]);
  });

  it('malformed JSON becomes an error part, never text', () => {
    const bytes = Buffer.from(
      'data: {"id":"x","choices":[{"index":0,"delta":{"content":"ok"}}]}\n\ndata: {"id":\n\n',
    );
    const parts = replayEverySplit(codec, 'sse', bytes);
    expect(textOf(parts, 'text')).toBe('ok');
    expect(parts.at(-1)).toMatchObject({ type: 'error', code: 'upstream_error' });
  });

  it('tolerates choices null, absent, and null content', () => {
    const lines = [
      { id: 'a', choices: [{ index: 0, delta: { role: 'assistant', content: null } }] },
      { id: 'a', choices: [{ index: 0, delta: { content: '' } }] },
      { id: 'a', choices: [{ index: 0, delta: { content: 'hi' }, finish_reason: 'length' }] },
      { id: 'a', choices: null, usage: { prompt_tokens: 1, completion_tokens: 1 } },
      { id: 'a', usage: null },
    ];
    const bytes = Buffer.from(
      `${lines.map((line) => `data: ${JSON.stringify(line)}\n\n`).join('')}data: [DONE]\n\n`,
    );
    const parts = replayEverySplit(codec, 'sse', bytes);
    expect(textOf(parts, 'text')).toBe('hi');
    expect(parts).toContainEqual({ type: 'finish', reason: 'length', rawReason: 'length' });
    // The recorded stream's role-only first delta and empty finish delta have no content key at
    // all: neither becomes a text part, and every content delta becomes exactly one.
    const recorded = replayEverySplit(codec, 'sse', readTranscript(fixture('openai-text.txt')));
    expect(recorded.flatMap((part) => (part.type === 'text' ? [part.text] : []))).toEqual([
      'Hello',
      '!',
      ' How',
      ' can',
      ' I',
      ' help',
      ' you',
      ' today',
      '?',
    ]);
  });

  it('reads a whole chat.completion body from a proxy that ignored stream: true', () => {
    const body = {
      id: 'chatcmpl-whole',
      object: 'chat.completion',
      model: 'gpt-4o',
      choices: [{ index: 0, message: { role: 'assistant', content: 'All at once.' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 },
    };
    const parts = replayEverySplit(codec, 'sse', Buffer.from(JSON.stringify(body, null, 2)));
    expect(textOf(parts, 'text')).toBe('All at once.');
    expect(parts).toContainEqual({ type: 'finish', reason: 'stop', rawReason: 'stop' });
    expect(parts).toContainEqual({ type: 'usage', usage: { inputTokens: 5, outputTokens: 3 } });
  });
});
