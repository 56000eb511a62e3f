import type { StreamFailure } from '../../core/errors.js';
import { createObjectCodec } from '../object-codec.js';
import type { CodecPart, StreamCodec, UsageCounts } from '../types.js';
import { ContentDelta } from './chunk-reader.js';

/**
 * Chat Completions chunks -> parts. Shared by every OpenAI-compatible provider (Together, and
 * any vLLM-style host): tolerant of `choices` being `[]`, `null` or absent (the usage chunk),
 * of `usage` on the finish chunk (Together) or on its own chunk (OpenAI), of `reasoning` /
 * `reasoning_content` deltas (DeepSeek-style hosts), and of an `{"error": ...}` object
 * arriving inside the stream after HTTP 200.
 */

interface ToolCallDelta {
  index?: number;
  id?: string | null;
  function?: { name?: string | null; arguments?: string | null } | null;
}
interface ChoiceDelta {
  content?: string | null;
  refusal?: string | null;
  reasoning?: string | null;
  reasoning_content?: string | null;
  tool_calls?: ToolCallDelta[] | null;
}
interface ChunkChoice {
  index?: number;
  delta?: ChoiceDelta | null;
  /** A whole `chat.completion` (a proxy that ignored `stream: true`) carries `message` instead. */
  message?: ChoiceDelta | null;
  finish_reason?: string | null;
}
interface ChatChunk {
  id?: string;
  model?: string;
  choices?: ChunkChoice[] | null;
  usage?: {
    prompt_tokens?: number;
    completion_tokens?: number;
    completion_tokens_details?: { reasoning_tokens?: number } | null;
  } | null;
  error?: unknown;
}

interface PendingToolCall {
  index: number;
  id: string;
  name: string;
  argumentPieces: string[];
  started: boolean;
  completed: boolean;
}

type MappedReason = Extract<CodecPart, { type: 'finish' }>['reason'];

/** OpenAI `finish_reason` (and Together's `eos`) onto the contract's values. */
function mapOpenAiFinishReason(reason: string): MappedReason {
  switch (reason) {
    case 'length':
      return 'length';
    case 'tool_calls':
    case 'function_call':
      return 'tool_calls';
    case 'content_filter':
      return 'content_filter';
    default:
      // 'stop', Together's 'eos', and anything newer: the model ended its answer.
      return 'stop';
  }
}

/** An OpenAI-style error object, in a stream or an HTTP body, onto a stream error code. */
export function classifyOpenAiError(error: unknown): StreamFailure {
  const object = (typeof error === 'object' && error !== null ? error : {}) as Record<string, unknown>;
  const message =
    typeof object.message === 'string'
      ? object.message
      : typeof error === 'string'
        ? error
        : 'upstream error';
  const kind = `${String(object.type ?? '')} ${String(object.code ?? '')} ${message}`.toLowerCase();
  if (kind.includes('insufficient_quota')) return { code: 'rate_limited', message, retryable: false };
  if (kind.includes('rate_limit') || kind.includes('rate limit'))
    return { code: 'rate_limited', message, retryable: true };
  if (kind.includes('capacity') || kind.includes('overloaded'))
    return { code: 'overloaded', message, retryable: true };
  if (kind.includes('invalid_api_key') || kind.includes('authentication')) {
    return { code: 'provider_auth', message, retryable: false };
  }
  if (kind.includes('content_filter') || kind.includes('content_policy')) {
    return { code: 'content_filter', message, retryable: false };
  }
  if (kind.includes('invalid_request')) return { code: 'bad_request', message, retryable: false };
  return { code: 'upstream_error', message, retryable: true };
}

export function createOpenAiCodec(displayName = 'OpenAI'): StreamCodec {
  let metadataSent = false;
  let finished = false;
  const toolCalls = new Map<number, PendingToolCall>();
  let toolOrder = 0;

  const completeToolCalls = (parts: CodecPart[]): void => {
    for (const call of toolCalls.values()) {
      if (call.completed) continue;
      call.completed = true;
      if (!call.started)
        parts.push({ type: 'tool_call_start', index: call.index, id: call.id, name: call.name });
      parts.push({
        type: 'tool_call',
        index: call.index,
        id: call.id,
        name: call.name,
        arguments: call.argumentPieces.join(''),
      });
    }
  };

  const onToolDelta = (delta: ToolCallDelta, position: number, parts: CodecPart[]): void => {
    const key = typeof delta.index === 'number' ? delta.index : position;
    let call = toolCalls.get(key);
    if (call === undefined) {
      call = { index: toolOrder++, id: '', name: '', argumentPieces: [], started: false, completed: false };
      toolCalls.set(key, call);
    }
    if (delta.id) call.id = delta.id;
    const name = delta.function?.name;
    if (name) call.name = call.started ? call.name : call.name + name;
    const fragment = delta.function?.arguments;
    if (fragment) call.argumentPieces.push(fragment);
    if (!call.started && call.name.length > 0) {
      if (call.id.length === 0) call.id = `call_${call.index}`;
      call.started = true;
      parts.push({ type: 'tool_call_start', index: call.index, id: call.id, name: call.name });
    }
  };

  const onChunk = (chunk: ChatChunk, parts: CodecPart[]): void => {
    if (chunk.error !== undefined && chunk.error !== null) {
      const error = classifyOpenAiError(chunk.error);
      parts.push({
        type: 'error',
        code: error.code,
        message: `${displayName}: ${error.message}`,
        retryable: error.retryable,
      });
      return;
    }
    if (!metadataSent && (chunk.id !== undefined || chunk.model !== undefined)) {
      metadataSent = true;
      parts.push({ type: 'metadata', upstreamId: chunk.id ?? null, upstreamModel: chunk.model ?? null });
    }
    const choice = Array.isArray(chunk.choices)
      ? chunk.choices.find((entry) => (entry.index ?? 0) === 0)
      : undefined;
    const delta = choice?.delta ?? choice?.message;
    if (delta) {
      const reasoning = delta.reasoning_content ?? delta.reasoning;
      if (typeof reasoning === 'string' && reasoning.length > 0)
        parts.push({ type: 'thinking', text: reasoning });
      if (typeof delta.content === 'string' && delta.content.length > 0)
        parts.push({ type: 'text', text: delta.content });
      if (typeof delta.refusal === 'string' && delta.refusal.length > 0)
        parts.push({ type: 'text', text: delta.refusal });
      if (Array.isArray(delta.tool_calls)) {
        delta.tool_calls.forEach((toolDelta, position) => {
          onToolDelta(toolDelta, position, parts);
        });
      }
    }
    if (chunk.usage && typeof chunk.usage === 'object') {
      const usage = chunk.usage;
      const counts: Partial<UsageCounts> = {};
      if (typeof usage.prompt_tokens === 'number') counts.inputTokens = usage.prompt_tokens;
      if (typeof usage.completion_tokens === 'number') counts.outputTokens = usage.completion_tokens;
      const reasoningTokens = usage.completion_tokens_details?.reasoning_tokens;
      if (typeof reasoningTokens === 'number') counts.thinkingTokens = reasoningTokens;
      parts.push({ type: 'usage', usage: counts });
    }
    const reason = choice?.finish_reason;
    if (typeof reason === 'string' && reason.length > 0 && !finished) {
      finished = true;
      completeToolCalls(parts);
      parts.push({ type: 'finish', reason: mapOpenAiFinishReason(reason), rawReason: reason });
    }
  };

  return createObjectCodec({
    displayName,
    unit: 'event',
    onObject(data, eventName, parts) {
      let chunk: unknown = data;
      if (data instanceof ContentDelta) {
        // The chunk reader's word for a chunk that is its text and nothing else, once its id and
        // model went out (its template may have come as an `error` event, which sends none).
        if (eventName !== 'error' && metadataSent) {
          if (data.content.length > 0) parts.push({ type: 'text', text: data.content });
          return;
        }
        chunk = data.value();
      }
      // An SSE `event: error` carries its error object as data (openai-node handles it too).
      if (eventName === 'error') onChunk({ error: (chunk as { error?: unknown }).error ?? chunk }, parts);
      else onChunk(chunk as ChatChunk, parts);
    },
  });
}
