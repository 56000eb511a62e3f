import { createObjectCodec } from '../object-codec.js';
import type { CodecPart, StreamCodec } from '../types.js';
import { classifyOllamaStreamError } from './errors.js';

/**
 * Ollama NDJSON lines -> parts (docs/wire.md §5). Each `/api/chat` line is a whole message
 * delta: `message.content`, `message.thinking` (thinking models with `think`), and
 * `message.tool_calls`, which arrive complete (arguments as an object), never in fragments.
 * The last line says `done: true` with `done_reason` and the counters. `/api/generate` lines
 * (`response`, top-level `thinking`) are read the same way, so a base URL pointed at a
 * generate-style proxy still streams.
 */

interface OllamaToolCall {
  id?: string | null;
  function?: { name?: string | null; arguments?: unknown } | null;
}
interface OllamaLine {
  model?: unknown;
  created_at?: unknown;
  message?: {
    content?: unknown;
    thinking?: unknown;
    tool_calls?: OllamaToolCall[] | null;
  } | null;
  response?: unknown;
  thinking?: unknown;
  done?: unknown;
  done_reason?: unknown;
  prompt_eval_count?: unknown;
  eval_count?: unknown;
  error?: unknown;
  status?: unknown;
}

type MappedReason = Extract<CodecPart, { type: 'finish' }>['reason'];

/** `done_reason` onto the contract: `load`/`unload` (model loaded or unloaded, no text) end normally. */
function mapOllamaDoneReason(reason: string): MappedReason {
  // A tool call ends with `stop` too; the generation layer turns it into `tool_calls`.
  return reason === 'length' ? 'length' : 'stop';
}

function nonEmpty(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

/** Ollama sends arguments as an object; older or proxied servers may send the JSON text. */
function argumentsText(value: unknown): string {
  if (typeof value === 'string') return value.length > 0 ? value : '{}';
  return JSON.stringify(value ?? {});
}

export function createOllamaCodec(): StreamCodec {
  let metadataSent = false;
  let finished = false;
  let toolCount = 0;

  const onLine = (line: OllamaLine, parts: CodecPart[]): void => {
    if (line.error !== undefined && line.error !== null) {
      const error = classifyOllamaStreamError(line.error, line.status);
      parts.push({
        type: 'error',
        code: error.code,
        message: `Ollama: ${error.message}`,
        retryable: error.retryable,
      });
      return;
    }
    if (finished) return;
    if (!metadataSent && typeof line.model === 'string') {
      metadataSent = true;
      parts.push({
        type: 'metadata',
        upstreamId: typeof line.created_at === 'string' ? line.created_at : null,
        upstreamModel: line.model,
      });
    }
    const message = line.message;
    const thinking = message?.thinking ?? line.thinking;
    if (nonEmpty(thinking)) parts.push({ type: 'thinking', text: thinking });
    const text = message?.content ?? line.response;
    if (nonEmpty(text)) parts.push({ type: 'text', text });
    for (const call of message?.tool_calls ?? []) {
      const name = call.function?.name;
      if (!nonEmpty(name)) continue;
      const index = toolCount++;
      const id = nonEmpty(call.id) ? call.id : `call_${index}`;
      parts.push({ type: 'tool_call_start', index, id, name });
      parts.push({ type: 'tool_call', index, id, name, arguments: argumentsText(call.function?.arguments) });
    }
    if (line.done !== true) return;
    finished = true;
    const usage: Extract<CodecPart, { type: 'usage' }>['usage'] = {};
    // Ollama leaves a count out when it is 0 (a cached prompt), hence each one on its own.
    if (typeof line.prompt_eval_count === 'number') usage.inputTokens = line.prompt_eval_count;
    if (typeof line.eval_count === 'number') usage.outputTokens = line.eval_count;
    if (Object.keys(usage).length > 0) parts.push({ type: 'usage', usage });
    // Servers before done_reason existed ended every answer with a bare `done: true`.
    const rawReason = nonEmpty(line.done_reason) ? line.done_reason : 'stop';
    parts.push({ type: 'finish', reason: mapOllamaDoneReason(rawReason), rawReason });
  };

  return createObjectCodec({
    displayName: 'Ollama',
    unit: 'line',
    onObject: (data, _eventName, parts) => onLine(data as OllamaLine, parts),
  });
}
