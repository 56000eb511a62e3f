import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chunksToSse, readTranscript, replayEverySplit, textOf } from '../../../test/helpers/replay.js';
import type { CodecPart } from '../types.js';
import { createAnthropicCodec, mapAnthropicStopReason } from './codec.js';

const fixture = (name: string) => join(import.meta.dirname, 'fixtures', name);
/** Raw SSE transcripts (event: + data: lines). */
const raw = (name: string) => readTranscript(fixture(name));
/** Payload-per-line transcripts, given back their `event:` lines. */
const chunks = (name: string) => chunksToSse(readTranscript(fixture(name)).toString('utf8'), { named: true });
const replay = (bytes: Uint8Array) => replayEverySplit(createAnthropicCodec, 'sse', bytes);
const ofType = <T extends CodecPart['type']>(parts: readonly CodecPart[], type: T) =>
  parts.filter((part): part is Extract<CodecPart, { type: T }> => part.type === type);
const sse = (...events: object[]) =>
  Buffer.from(
    events
      .map((data) => `event: ${(data as { type: string }).type}\ndata: ${JSON.stringify(data)}\n\n`)
      .join(''),
  );

describe('Anthropic codec on recorded transcripts', () => {
  it('docs text stream: metadata, text, cumulative usage, finish', () => {
    const parts = replay(raw('anthropic-text.txt'));
    expect(parts).toEqual([
      {
        type: 'metadata',
        upstreamId: 'msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY',
        upstreamModel: 'claude-sonnet-4-5-20250929',
        inputTokens: 25,
      },
      { type: 'usage', usage: { inputTokens: 25 } },
      { type: 'text', text: 'Hello' },
      { type: 'text', text: '!' },
      { type: 'usage', usage: { inputTokens: 25, outputTokens: 15 } },
      { type: 'finish', reason: 'stop', rawReason: 'end_turn' },
    ]);
  });

  it('live claude-sonnet-4-5 text stream (payload-per-line capture)', () => {
    const parts = replay(chunks('anthropic-text.chunks.txt'));
    expect(parts[0]).toEqual({
      type: 'metadata',
      upstreamId: 'msg_01QC4g3HwBThD4BaNtBckFDJ',
      upstreamModel: 'claude-sonnet-4-5-20250929',
      inputTokens: 12,
    });
    expect(textOf(parts, 'text')).toBe(
      "Hello! I'm doing well, thank you for asking. How are you doing today? Is there anything I can help you with?",
    );
    expect(parts.slice(-2)).toEqual([
      { type: 'usage', usage: { inputTokens: 12, outputTokens: 30 } },
      { type: 'finish', reason: 'stop', rawReason: 'end_turn' },
    ]);
  });

  it('docs tool-use stream: text, then one tool call completed at content_block_stop', () => {
    const parts = replay(raw('anthropic-tooluse.txt'));
    expect(textOf(parts, 'text')).toBe("Okay, let's check the weather for San Francisco, CA:");
    const id = 'toolu_01T1x1fJ34qAmk2tNTrN7Up6';
    const calls = parts.filter((part) => part.type === 'tool_call_start' || part.type === 'tool_call');
    expect(calls).toEqual([
      { type: 'tool_call_start', index: 0, id, name: 'get_weather' },
      {
        type: 'tool_call',
        index: 0,
        id,
        name: 'get_weather',
        arguments: '{"location": "San Francisco, CA", "unit": "fahrenheit"}',
      },
    ]);
    // The start comes as soon as the block opens, before any argument fragment would complete it.
    const startAt = parts.findIndex((part) => part.type === 'tool_call_start');
    const callAt = parts.findIndex((part) => part.type === 'tool_call');
    const finishAt = parts.findIndex((part) => part.type === 'finish');
    expect(startAt).toBeLessThan(callAt);
    expect(callAt).toBeLessThan(finishAt);
    expect(parts.at(-1)).toEqual({ type: 'finish', reason: 'tool_calls', rawReason: 'tool_use' });
    expect(parts).toContainEqual({ type: 'usage', usage: { outputTokens: 89, inputTokens: 472 } });
  });

  it('live claude-haiku-4-5 forced tool use: arguments parse as the whole JSON object', () => {
    const parts = replay(chunks('anthropic-tooluse.chunks.txt'));
    const [call] = ofType(parts, 'tool_call');
    expect(call).toMatchObject({ index: 0, id: 'toolu_01KFbKqPYSuAKujiL6mTfzYA', name: 'json' });
    expect(JSON.parse(call?.arguments ?? '')).toEqual({
      elements: [{ location: 'San Francisco', temperature: 58, condition: 'sunny' }],
    });
    expect(ofType(parts, 'text')).toEqual([]);
    expect(parts.slice(-2)).toEqual([
      { type: 'usage', usage: { inputTokens: 849, outputTokens: 47 } },
      { type: 'finish', reason: 'tool_calls', rawReason: 'tool_use' },
    ]);
  });

  it('claude-3-7 thinking then text; the signed block is kept for the next turn, never as text', () => {
    const parts = replay(chunks('anthropic-thinking.txt'));
    expect(textOf(parts, 'thinking')).toBe(
      'The user has simply said "hey" as a greeting without any specific request or question. ' +
        "I don't need to use any tools for this type of interaction. I should respond with a friendly " +
        'greeting and ask how I can help them today.',
    );
    expect(textOf(parts, 'text')).toBe(
      "Hello! I'm Assistant, an AI here to help you. How can I assist you today? Feel free to ask " +
        "questions or let me know what you're looking for, and I'll do my best to help.",
    );
    const lastThinking = parts.findLastIndex((part) => part.type === 'thinking');
    const firstText = parts.findIndex((part) => part.type === 'text');
    expect(lastThinking).toBeLessThan(firstText);
    const [state] = ofType(parts, 'reasoning_state');
    expect(state?.item).toMatchObject({ type: 'thinking', thinking: textOf(parts, 'thinking') });
    expect(String(state?.item.signature)).toMatch(/^ErUBCkYIARgC/);
    // The block is whole at its stop, before the answer text.
    expect(parts.findIndex((part) => part.type === 'reasoning_state')).toBeLessThan(firstText);
    const visible = parts.filter((part) => part.type !== 'reasoning_state');
    expect(JSON.stringify(visible)).not.toContain('ErUBCkYIARgC');
    expect(parts.slice(-2)).toEqual([
      { type: 'usage', usage: { inputTokens: 778, outputTokens: 104 } },
      { type: 'finish', reason: 'stop', rawReason: 'end_turn' },
    ]);
  });

  it('docs thinking stream without any usage: no usage parts are invented', () => {
    const parts = replay(raw('anthropic-thinking-docs.txt'));
    expect(parts[0]).toEqual({
      type: 'metadata',
      upstreamId: 'msg_01...',
      upstreamModel: 'claude-sonnet-4-5-20250929',
    });
    expect(ofType(parts, 'usage')).toEqual([]);
    expect(textOf(parts, 'thinking')).toContain('10,800 + 1,350 + 81 = 12,231');
    expect(textOf(parts, 'text')).toBe('27 * 453 = 12,231');
    expect(ofType(parts, 'reasoning_state').map((part) => part.item.signature)).toEqual([
      expect.stringMatching(/^EqQBCgIYAhIM/),
    ]);
    expect(parts.at(-1)).toEqual({ type: 'finish', reason: 'stop', rawReason: 'end_turn' });
  });

  it('newer thinking stream: odd whitespace, stop_details, thinking token count', () => {
    const parts = replay(chunks('anthropic-thinking-2.chunks.txt'));
    expect(textOf(parts, 'thinking')).toBe(
      "I'm working through the Euclidean algorithm to find the GCD of 1071 and 462, applying successive " +
        'division until I reach a remainder of zero, which gives me 21 as the greatest common divisor.',
    );
    expect(textOf(parts, 'text')).toMatch(/^# Finding GCD\(1071, 462\)[\s\S]*462 = 21 × 22 ✓$/);
    expect(parts.slice(-2)).toEqual([
      { type: 'usage', usage: { inputTokens: 47, outputTokens: 373, thinkingTokens: 62 } },
      { type: 'finish', reason: 'stop', rawReason: 'end_turn' },
    ]);
    expect(ofType(parts, 'error')).toEqual([]);
  });

  it('a refusal with zero content blocks finishes as content_filter', () => {
    const parts = replay(chunks('anthropic-refusal.chunks.txt'));
    expect(parts).toEqual([
      {
        type: 'metadata',
        upstreamId: 'msg_01RefusalStreamAbcdefghijk',
        upstreamModel: 'claude-fable-5',
        inputTokens: 18,
      },
      { type: 'usage', usage: { inputTokens: 18 } },
      { type: 'usage', usage: { inputTokens: 18, outputTokens: 5 } },
      { type: 'finish', reason: 'content_filter', rawReason: 'refusal' },
    ]);
  });
});

describe('Anthropic codec on constructed fixtures', () => {
  it('redacted_thinking becomes one part, never decoded; its data is kept as it came for the next turn', () => {
    const parts = replay(raw('anthropic-redacted-thinking.txt'));
    expect(ofType(parts, 'redacted_thinking')).toEqual([{ type: 'redacted_thinking' }]);
    const visible = parts.filter((part) => part.type !== 'reasoning_state');
    expect(JSON.stringify(visible)).not.toContain('EmwKAhgB');
    expect(parts.map((part) => part.type)).toEqual([
      'metadata',
      'usage',
      'redacted_thinking',
      'reasoning_state',
      'thinking',
      'reasoning_state',
      'text',
      'usage',
      'finish',
    ]);
    expect(ofType(parts, 'reasoning_state').map((part) => part.item)).toEqual([
      { type: 'redacted_thinking', data: expect.stringMatching(/^EmwKAhgB.*==$/) },
      {
        type: 'thinking',
        thinking: 'Some of my reasoning was redacted.',
        signature: expect.stringMatching(/^ErUBCkYIARgC/),
      },
    ]);
    expect(textOf(parts, 'thinking')).toBe('Some of my reasoning was redacted.');
    expect(textOf(parts, 'text')).toBe('Here is the answer.');
  });

  it('a mid-stream overloaded_error after some text is a retryable error part, with no finish', () => {
    const parts = replay(raw('anthropic-overloaded-midstream.txt'));
    expect(textOf(parts, 'text')).toBe('The first part of an answer');
    expect(parts.at(-1)).toEqual({
      type: 'error',
      code: 'overloaded',
      message: 'Anthropic: overloaded_error: Overloaded',
      retryable: true,
    });
    expect(ofType(parts, 'finish')).toEqual([]);
  });

  it('max_tokens finishes as length; cached input counts as input', () => {
    const parts = replay(raw('anthropic-max-tokens.txt'));
    expect(parts[0]).toMatchObject({ type: 'metadata', inputTokens: 24 });
    expect(textOf(parts, 'text')).toBe('Once upon a time, in a land far away, there lived');
    expect(parts.slice(-2)).toEqual([
      { type: 'usage', usage: { inputTokens: 24, outputTokens: 16 } },
      { type: 'finish', reason: 'length', rawReason: 'max_tokens' },
    ]);
  });

  it('maps every documented stop reason', () => {
    const template = raw('anthropic-max-tokens.txt').toString('utf8');
    const expected = {
      end_turn: 'stop',
      stop_sequence: 'stop',
      pause_turn: 'stop',
      max_tokens: 'length',
      model_context_window_exceeded: 'length',
      tool_use: 'tool_calls',
      refusal: 'content_filter',
      some_future_reason: 'stop',
    } as const;
    for (const [rawReason, reason] of Object.entries(expected)) {
      const bytes = Buffer.from(
        template.replace('"stop_reason":"max_tokens"', `"stop_reason":"${rawReason}"`),
      );
      const finishes = ofType(replay(bytes), 'finish');
      expect(finishes).toEqual([{ type: 'finish', reason, rawReason }]);
      expect(mapAnthropicStopReason(rawReason)).toBe(reason);
    }
  });

  it('interleaved thinking and text blocks never mix', () => {
    const parts = replay(raw('anthropic-interleaved.txt'));
    expect(textOf(parts, 'thinking')).toBe('think-1 think-2');
    expect(textOf(parts, 'text')).toBe('text-1 text-2');
    expect(parts.map((part) => part.type)).toEqual([
      'metadata',
      'usage',
      'thinking',
      'text',
      'thinking',
      'reasoning_state',
      'text',
      'usage',
      'finish',
    ]);
    expect(ofType(parts, 'reasoning_state')[0]?.item).toEqual({
      type: 'thinking',
      thinking: 'think-1 think-2',
      signature: 'c2lnbmF0dXJl',
    });
    expect(parts).toContainEqual({
      type: 'usage',
      usage: { outputTokens: 12, thinkingTokens: 5, inputTokens: 30 },
    });
  });

  it('interleaved tool_use blocks keep their own arguments; a call with no fragments gets "{}"', () => {
    const parts = replay(raw('anthropic-interleaved-tools.txt'));
    expect(textOf(parts, 'text')).toBe('Checking both.');
    expect(ofType(parts, 'tool_call_start')).toEqual([
      { type: 'tool_call_start', index: 0, id: 'toolu_01Weather', name: 'get_weather' },
      { type: 'tool_call_start', index: 1, id: 'toolu_01Time', name: 'get_time' },
      { type: 'tool_call_start', index: 2, id: 'toolu_01Clock', name: 'list_clocks' },
    ]);
    // Completed in the order their blocks stop; the index stays the order of appearance.
    expect(ofType(parts, 'tool_call')).toEqual([
      { type: 'tool_call', index: 1, id: 'toolu_01Time', name: 'get_time', arguments: '{"zone": "CET"}' },
      {
        type: 'tool_call',
        index: 0,
        id: 'toolu_01Weather',
        name: 'get_weather',
        arguments: '{"city": "Paris"}',
      },
      { type: 'tool_call', index: 2, id: 'toolu_01Clock', name: 'list_clocks', arguments: '{}' },
    ]);
    expect(parts.at(-1)).toEqual({ type: 'finish', reason: 'tool_calls', rawReason: 'tool_use' });
  });

  it('server tools and citations are ignored; only the answer text remains', () => {
    const parts = replay(raw('anthropic-server-tools.txt'));
    expect(textOf(parts, 'text')).toBe('A sluice is a gated water channel.');
    expect(parts.map((part) => part.type)).toEqual(['metadata', 'usage', 'text', 'usage', 'finish']);
    expect(JSON.stringify(parts)).not.toContain('sluice gates');
  });
});

describe('Anthropic codec on edge cases', () => {
  const start = {
    type: 'message_start',
    message: { id: 'msg_edge', model: 'claude-haiku-4-5', usage: { input_tokens: 3, output_tokens: 1 } },
  };
  const textBlock = { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } };
  const textDelta = (text: string) => ({
    type: 'content_block_delta',
    index: 0,
    delta: { type: 'text_delta', text },
  });

  it('malformed JSON becomes an error part, never text', () => {
    const bytes = Buffer.concat([
      sse(start, textBlock, textDelta('ok')),
      Buffer.from(
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"ty\n\n',
      ),
    ]);
    const parts = replay(bytes);
    expect(textOf(parts, 'text')).toBe('ok');
    expect(parts.at(-1)).toMatchObject({ type: 'error', code: 'upstream_error', retryable: true });
  });

  it('data that is JSON but not an object is an error part', () => {
    const parts = replay(Buffer.from('event: message_start\ndata: 42\n\n'));
    expect(parts).toEqual([
      {
        type: 'error',
        code: 'upstream_error',
        message: 'Anthropic sent an event that is not a JSON object',
        retryable: true,
      },
    ]);
  });

  it('ping and unknown event types are ignored', () => {
    const parts = replay(
      Buffer.concat([
        sse(start, { type: 'ping' }, { type: 'content_block_hologram', index: 0 }, textBlock),
        sse({ type: 'content_block_delta', index: 0, delta: { type: 'sparkle_delta', sparkle: 'x' } }),
        sse(textDelta('fine'), { type: 'content_block_stop', index: 0 }, { type: 'message_stop' }),
      ]),
    );
    expect(parts.map((part) => part.type)).toEqual(['metadata', 'usage', 'text', 'finish']);
    expect(parts.at(-1)).toEqual({ type: 'finish', reason: 'stop', rawReason: 'message_stop' });
  });

  it('a delta aimed at another kind of block is dropped; one with no block start is kept', () => {
    const toolStart = {
      type: 'content_block_start',
      index: 1,
      content_block: { type: 'tool_use', id: 'toolu_x', name: 'noop', input: {} },
    };
    const stray = (index: number, delta: object) => ({ type: 'content_block_delta', index, delta });
    const parts = replay(
      sse(
        start,
        toolStart,
        stray(1, { type: 'text_delta', text: 'not text' }),
        stray(1, { type: 'thinking_delta', thinking: 'not thinking' }),
        stray(2, { type: 'text_delta', text: 'orphan text' }),
        { type: 'content_block_stop', index: 1 },
      ),
    );
    expect(textOf(parts, 'text')).toBe('orphan text');
    expect(textOf(parts, 'thinking')).toBe('');
    expect(parts).toContainEqual({
      type: 'tool_call',
      index: 0,
      id: 'toolu_x',
      name: 'noop',
      arguments: '{}',
    });
  });

  it('a body that ends mid-answer has no finish (the generation layer reports it incomplete)', () => {
    const toolStart = {
      type: 'content_block_start',
      index: 1,
      content_block: { type: 'tool_use', id: 'toolu_cut', name: 'lookup', input: {} },
    };
    const fragment = {
      type: 'content_block_delta',
      index: 1,
      delta: { type: 'input_json_delta', partial_json: '{"q": "ha' },
    };
    const parts = replay(sse(start, textBlock, textDelta('half'), toolStart, fragment));
    expect(parts.map((part) => part.type)).toEqual(['metadata', 'usage', 'text', 'tool_call_start']);
  });

  it('a finished answer stays finished if the body ends before message_stop', () => {
    const delta = { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 2 } };
    const parts = replay(
      sse(start, textBlock, textDelta('done'), { type: 'content_block_stop', index: 0 }, delta),
    );
    expect(parts.slice(-2)).toEqual([
      { type: 'usage', usage: { inputTokens: 3, outputTokens: 2 } },
      { type: 'finish', reason: 'stop', rawReason: 'end_turn' },
    ]);
  });

  it('maps every in-stream error type and redacts keys from messages', () => {
    const cases = [
      ['overloaded_error', 'overloaded', true],
      ['rate_limit_error', 'rate_limited', true],
      ['api_error', 'upstream_error', true],
      ['authentication_error', 'provider_auth', false],
      ['invalid_request_error', 'bad_request', false],
      ['mystery_error', 'upstream_error', true],
    ] as const;
    for (const [errorType, code, retryable] of cases) {
      const error = {
        type: 'error',
        error: { type: errorType, message: 'bad key sk-ant-api03-abcdefghijklmnop' },
      };
      const [part] = replay(sse(error));
      expect(part).toEqual({
        type: 'error',
        code,
        retryable,
        message: `Anthropic: ${errorType}: bad key [redacted]`,
      });
    }
  });
});
