import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chunksToSse, readTranscript, replayEverySplit, textOf } from '../../../test/helpers/replay.js';
import type { CodecPart } from '../types.js';
import { createGeminiCodec } from './codec.js';
import { googleJson } from './emulator.js';

const fixture = (name: string) => join(import.meta.dirname, 'fixtures', name);
const raw = (name: string) => readTranscript(fixture(name));
const chunks = (name: string) => chunksToSse(raw(name).toString('utf8'), { separator: '\r\n\r\n' });
const replay = (bytes: Uint8Array) => replayEverySplit(createGeminiCodec, 'sse', bytes);
const ofType = <T extends CodecPart['type']>(parts: CodecPart[], type: T) =>
  parts.filter((part): part is Extract<CodecPart, { type: T }> => part.type === type);

describe('Gemini codec on recorded transcripts', () => {
  it('thought parts then text, ending in MAX_TOKENS (raw CRLF bytes, gemini-2.5-flash)', () => {
    const bytes = raw('gemini-thought.txt');
    expect(bytes.includes('\r\n\r\n')).toBe(true);
    const parts = replay(bytes);
    expect(parts.map((part) => part.type)).toEqual(['metadata', 'thinking', 'usage', 'text', 'finish']);
    expect(parts[0]).toEqual({
      type: 'metadata',
      upstreamId: 'EdDHavuSDILGjMcPvefFoQg',
      upstreamModel: 'gemini-2.5-flash',
      inputTokens: 29,
    });
    expect(textOf(parts, 'thinking')).toMatch(/^\*\*Initiating the Descent\*\*\n\nI'm now diving/);
    expect(textOf(parts, 'thinking')).toContain('x² + y² + z² = 3xyz');
    expect(textOf(parts, 'text')).toBe('We');
    // candidatesTokenCount is absent on every chunk: output is the thoughts alone.
    expect(parts[2]).toEqual({
      type: 'usage',
      usage: { inputTokens: 29, outputTokens: 59, thinkingTokens: 59 },
    });
    expect(parts.at(-1)).toEqual({ type: 'finish', reason: 'length', rawReason: 'MAX_TOKENS' });
  });

  it('MALFORMED_FUNCTION_CALL with no content becomes an error part carrying finishMessage', () => {
    const parts = replay(raw('gemini-malformed-function-call.txt'));
    expect(parts).toEqual([
      { type: 'usage', usage: { inputTokens: 61, outputTokens: 0 } },
      {
        type: 'error',
        code: 'upstream_error',
        message:
          'Gemini ended the answer with finishReason MALFORMED_FUNCTION_CALL: Malformed function call: print(default_api.archive(cities=["New',
        retryable: false,
      },
    ]);
  });

  it('a blocked prompt (promptFeedback.blockReason, no candidates) finishes with content_filter', () => {
    const parts = replay(chunks('gemini-safety.txt'));
    expect(parts).toEqual([
      {
        type: 'metadata',
        upstreamId: 'EXCPatOAKMrQjMcPteHVmQo',
        upstreamModel: 'gemini-3.7-flash',
        inputTokens: 9,
      },
      { type: 'usage', usage: { inputTokens: 9, outputTokens: 0 } },
      { type: 'finish', reason: 'content_filter', rawReason: 'PROHIBITED_CONTENT' },
    ]);
  });

  it('a whole functionCall part gives tool_call_start and tool_call at once; STOP stays stop', () => {
    const parts = replay(chunks('gemini-toolcall.chunks.txt'));
    expect(parts.filter((part) => part.type.startsWith('tool_call'))).toEqual([
      { type: 'tool_call_start', index: 0, id: 'call_0', name: 'weather' },
      {
        type: 'tool_call',
        index: 0,
        id: 'call_0',
        name: 'weather',
        arguments: '{"location":"San Francisco"}',
      },
    ]);
    expect(ofType(parts, 'text')).toEqual([]);
    expect(ofType(parts, 'usage')).toEqual([
      { type: 'usage', usage: { inputTokens: 29, outputTokens: 60, thinkingTokens: 45 } },
    ]);
    // The call's thought signature is kept, naming the call it belongs to, for the next turn.
    expect(ofType(parts, 'reasoning_state').map((part) => part.item)).toEqual([
      { part: 'function_call', index: 0, signature: expect.stringMatching(/^.{16,}$/) },
    ]);
    expect(parts.at(-1)).toEqual({ type: 'finish', reason: 'stop', rawReason: 'STOP' });
  });

  it('a thoughtSignature on an empty final text part is kept aside, not as text; usage follows the latest snapshot', () => {
    const parts = replay(chunks('gemini-reasoning-signature.chunks.txt'));
    expect(textOf(parts, 'text')).toBe(
      'There are **3** "r"s in strawberry.\n\nHere is the breakdown: st**r**awbe**rr**y.',
    );
    expect(ofType(parts, 'text')).toHaveLength(2);
    expect(ofType(parts, 'thinking')).toEqual([]);
    expect(ofType(parts, 'reasoning_state').map((part) => part.item.part)).toEqual(['text']);
    expect(ofType(parts, 'usage').map((part) => part.usage)).toEqual([
      { inputTokens: 9, outputTokens: 266, thinkingTokens: 256 },
      { inputTokens: 9, outputTokens: 285, thinkingTokens: 256 },
    ]);
    expect(ofType(parts, 'metadata')).toHaveLength(1);
    expect(parts.at(-1)).toEqual({ type: 'finish', reason: 'stop', rawReason: 'STOP' });
  });

  it('a raw pretty-printed error object after the data events becomes an overloaded error part', () => {
    const bytes = raw('gemini-midstream-error.txt');
    expect(bytes.toString('utf8')).toMatch(/\n\{\n {2}"error": \{\n {4}"code": 503/);
    const parts = replay(bytes);
    expect(parts[0]).toEqual({
      type: 'metadata',
      upstreamId: null,
      upstreamModel: 'gemini-2.0-flash',
      inputTokens: 2304,
    });
    expect(textOf(parts, 'text')).toBe('Okay');
    expect(parts.slice(-2)).toEqual([
      { type: 'finish', reason: 'stop', rawReason: 'STOP' },
      {
        type: 'error',
        code: 'overloaded',
        message: 'Gemini: The model is overloaded. Please try again later.',
        retryable: true,
      },
    ]);
  });
});

describe('Gemini codec on constructed streams', () => {
  it('a SAFETY stop after some text (no content key) finishes with content_filter', () => {
    const parts = replay(raw('gemini-safety-after-text.txt'));
    expect(textOf(parts, 'text')).toBe('Here is how you could start:');
    expect(parts.at(-1)).toEqual({ type: 'finish', reason: 'content_filter', rawReason: 'SAFETY' });
    expect(ofType(parts, 'error')).toEqual([]);
  });

  it('a stream that ends without finishReason emits no finish and no error', () => {
    const parts = replay(raw('gemini-no-finish.txt'));
    expect(textOf(parts, 'text')).toBe('The first half of an answer');
    expect(parts.filter((part) => part.type === 'finish' || part.type === 'error')).toEqual([]);
    expect(parts.at(-1)).toEqual({ type: 'usage', usage: { inputTokens: 7, outputTokens: 6 } });
  });

  it('keeps every part of a chunk, in order: thought, text, text, skipped signature carrier', () => {
    const parts = replay(raw('gemini-multi-part.txt'));
    expect(parts.filter((part) => part.type === 'thinking' || part.type === 'text')).toEqual([
      { type: 'thinking', text: '**Planning** the reply…\n' },
      { type: 'text', text: 'Grüße' },
      { type: 'text', text: ' aus ' },
      { type: 'text', text: 'Köln 🌧' },
    ]);
    expect(parts.at(-1)).toEqual({ type: 'finish', reason: 'stop', rawReason: 'STOP' });
  });

  it('parallel function calls in one chunk: indexes 0 and 1, upstream id kept, missing args -> {}', () => {
    const parts = replay(raw('gemini-parallel-calls.txt'));
    expect(parts.filter((part) => part.type.startsWith('tool_call'))).toEqual([
      { type: 'tool_call_start', index: 0, id: 'call_0', name: 'get_weather' },
      {
        type: 'tool_call',
        index: 0,
        id: 'call_0',
        name: 'get_weather',
        arguments: '{"city":"Paris","days":[1,2]}',
      },
      { type: 'tool_call_start', index: 1, id: 'fc_77', name: 'get_time' },
      { type: 'tool_call', index: 1, id: 'fc_77', name: 'get_time', arguments: '{}' },
    ]);
  });

  it('an error object inside a data: event becomes an error part (429 -> rate_limited)', () => {
    const parts = replay(raw('gemini-error-in-data.txt'));
    expect(textOf(parts, 'text')).toBe('Partial');
    expect(parts.at(-1)).toEqual({
      type: 'error',
      code: 'rate_limited',
      message: 'Gemini: Resource has been exhausted (e.g. check quota).',
      retryable: true,
    });
  });

  it('maps in-stream error statuses: UNAVAILABLE, RESOURCE_EXHAUSTED, INTERNAL, others', () => {
    const cases: [Record<string, unknown>, string, boolean][] = [
      [{ code: 503, message: 'm', status: 'UNAVAILABLE' }, 'overloaded', true],
      [{ status: 'UNAVAILABLE', message: 'm' }, 'overloaded', true],
      [{ code: 429, message: 'm', status: 'RESOURCE_EXHAUSTED' }, 'rate_limited', true],
      [{ code: 500, message: 'm', status: 'INTERNAL' }, 'upstream_error', true],
      [{ status: 'INTERNAL', message: 'm' }, 'upstream_error', true],
      [{ code: 400, message: 'm', status: 'INVALID_ARGUMENT' }, 'bad_request', false],
      [{ code: 404, message: 'm', status: 'NOT_FOUND' }, 'bad_request', false],
      [{ code: 403, message: 'm', status: 'PERMISSION_DENIED' }, 'provider_auth', false],
    ];
    for (const [error, code, retryable] of cases) {
      const parts = replay(Buffer.from(`data: ${googleJson({ error })}\r\n\r\n`));
      expect(parts).toEqual([{ type: 'error', code, message: 'Gemini: m', retryable }]);
    }
  });

  it('maps every finishReason family', () => {
    const families: [string, CodecPart['type'], string | undefined][] = [
      ['STOP', 'finish', 'stop'],
      ['MAX_TOKENS', 'finish', 'length'],
      ['SAFETY', 'finish', 'content_filter'],
      ['RECITATION', 'finish', 'content_filter'],
      ['BLOCKLIST', 'finish', 'content_filter'],
      ['PROHIBITED_CONTENT', 'finish', 'content_filter'],
      ['SPII', 'finish', 'content_filter'],
      ['LANGUAGE', 'finish', 'content_filter'],
      ['IMAGE_SAFETY', 'finish', 'content_filter'],
      ['IMAGE_PROHIBITED_CONTENT', 'finish', 'content_filter'],
      ['MALFORMED_FUNCTION_CALL', 'error', undefined],
      ['UNEXPECTED_TOOL_CALL', 'error', undefined],
      ['TOO_MANY_TOOL_CALLS', 'error', undefined],
      ['OTHER', 'error', undefined],
      ['SOMETHING_NEW', 'error', undefined],
    ];
    for (const [reason, type, mapped] of families) {
      const body = {
        candidates: [{ content: { parts: [{ text: 'Hi' }], role: 'model' }, finishReason: reason, index: 0 }],
      };
      const parts = replay(Buffer.from(`data: ${googleJson(body)}\r\n\r\n`));
      expect(parts[0]).toEqual({ type: 'text', text: 'Hi' });
      const last = parts.at(-1);
      expect(last?.type).toBe(type);
      if (last?.type === 'finish')
        expect(last).toEqual({ type: 'finish', reason: mapped, rawReason: reason });
      if (last?.type === 'error') {
        expect(last.code).toBe('upstream_error');
        expect(last.message).toContain(reason);
      }
    }
    const unspecified = {
      candidates: [{ content: { parts: [{ text: 'Hi' }] }, finishReason: 'FINISH_REASON_UNSPECIFIED' }],
    };
    expect(replay(Buffer.from(`data: ${googleJson(unspecified)}\r\n\r\n`))).toEqual([
      { type: 'text', text: 'Hi' },
    ]);
  });

  it('malformed JSON and non-object data become error parts, never text', () => {
    const parts = replay(
      Buffer.from(
        'data: {"candidates": [{"content": {"parts": [{"text": "ok"}]}}]}\r\n\r\ndata: {"candidates": [\r\n\r\ndata: 42\r\n\r\n',
      ),
    );
    expect(textOf(parts, 'text')).toBe('ok');
    expect(parts.slice(1).map((part) => part.type)).toEqual(['error', 'error']);
    expect(parts[1]).toMatchObject({ type: 'error', code: 'upstream_error', retryable: true });
  });

  it('an array where Gemini sends an object (usageMetadata, a candidate, a part) is ignored', () => {
    const chunk = {
      candidates: [[], { index: 0, content: { parts: [[], { text: 'ok' }] }, finishReason: 'STOP' }],
      usageMetadata: [],
    };
    expect(replay(Buffer.from(`data: ${googleJson(chunk)}\r\n\r\n`))).toEqual([
      { type: 'text', text: 'ok' },
      { type: 'finish', reason: 'stop', rawReason: 'STOP' },
    ]);
  });
});
