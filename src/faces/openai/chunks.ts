import { DONE_SENTINEL, encodeComment, encodeData } from '../../core/sse-encode.js';
import type { LogReader } from '../../generation/log.js';
import type { FinishReason, Usage } from '../../protocol/frames.js';
import { STREAM_HEADERS } from '../../protocol/http.js';
import type { StreamEncoder } from '../types.js';
import { openAiFailure } from './errors.js';

/**
 * A generation as OpenAI streams Chat Completions (docs/wire.md §1): one `data:` line per
 * `chat.completion.chunk`, no `event:` or `id:` lines (clients that split events by hand expect
 * none), `[DONE]` last. Fields in OpenAI's order: `id`, `object`, `created`, `model`, `choices`
 * (`index`, `delta`, `logprobs`, `finish_reason`), then `usage` (null on every chunk when usage
 * was asked for, as OpenAI does).
 */

export interface CompletionIdentity {
  /** `chatcmpl-<generation id>`: one generation, one completion id, whoever reads it. */
  id: string;
  /** Unix seconds of the generation's start. */
  created: number;
  /** The name responses report (`"<provider>/<model>"`). */
  model: string;
}

export function completionIdentity(
  generationId: string,
  createdMs: number,
  model: string,
): CompletionIdentity {
  return { id: `chatcmpl-${generationId}`, created: Math.floor(createdMs / 1000), model };
}

/** The contract's finish reasons that OpenAI also has; `error` and `cancelled` end with an error instead. */
export function openAiFinishReason(
  reason: FinishReason,
): 'stop' | 'length' | 'tool_calls' | 'content_filter' {
  return reason === 'length' || reason === 'tool_calls' || reason === 'content_filter' ? reason : 'stop';
}

/** The contract's usage in OpenAI's words: reasoning tokens are part of the completion tokens in both. */
export function openAiUsage(usage: Usage): Record<string, unknown> {
  return {
    prompt_tokens: usage.input_tokens,
    completion_tokens: usage.output_tokens,
    total_tokens: usage.total_tokens,
    completion_tokens_details: { reasoning_tokens: usage.thinking_tokens ?? 0 },
  };
}

export interface ChunkEncoderOptions extends CompletionIdentity {
  /** `stream_options.include_usage`: `usage: null` on every chunk and a usage chunk before `[DONE]`. */
  includeUsage: boolean;
}

/**
 * One encoder per response: it remembers which tool calls it opened and whether it ended the
 * stream with an error (after which nothing follows, not even `[DONE]`, as on OpenAI's API).
 */
export function openAiChunkEncoder(options: ChunkEncoderOptions): StreamEncoder {
  const head = `data: {"id":${encodeData(options.id)},"object":"chat.completion.chunk","created":${options.created},"model":${encodeData(options.model)},"choices":`;
  const usageNull = options.includeUsage ? ',"usage":null' : '';
  const choice = (delta: string, finish = 'null'): string =>
    `${head}[{"index":0,"delta":${delta},"logprobs":null,"finish_reason":${finish}}]${usageNull}}\n\n`;
  const openedCalls = new Set<number>();
  let failed = false;

  const frameText = (log: LogReader, id: number): string => {
    if (failed) return '';
    // Answer text, nearly every frame, without building the frame.
    if (log.event(id) === 'chunk') return choice(`{"content":${encodeData(log.text(id) ?? '')}}`);
    const frame = log.frame(id);
    switch (frame.event) {
      case 'start':
        return choice('{"role":"assistant","content":"","refusal":null}');
      case 'chunk':
        return choice(`{"content":${encodeData(frame.data.delta_text)}}`);
      case 'thinking':
        return choice(`{"reasoning_content":${encodeData(frame.data.delta_text)}}`);
      case 'tool_call_start': {
        const { index, id: callId, name } = frame.data;
        openedCalls.add(index);
        return choice(
          `{"tool_calls":[{"index":${index},"id":${encodeData(callId)},"type":"function","function":{"name":${encodeData(name)},"arguments":""}}]}`,
        );
      }
      case 'tool_call': {
        const { index, id: callId, name } = frame.data;
        const argumentsJson = encodeData(frame.data.arguments);
        // A call whose start this reader did not see is sent whole, in OpenAI's first-fragment shape.
        if (!openedCalls.has(index)) {
          openedCalls.add(index);
          return choice(
            `{"tool_calls":[{"index":${index},"id":${encodeData(callId)},"type":"function","function":{"name":${encodeData(name)},"arguments":${argumentsJson}}}]}`,
          );
        }
        return choice(`{"tool_calls":[{"index":${index},"function":{"arguments":${argumentsJson}}}]}`);
      }
      case 'error':
        // A moderation stop is a finish reason on OpenAI's API, not an error.
        if (frame.data.code === 'content_filter') return '';
        failed = true;
        return `data: ${encodeData(openAiFailure(frame.data.code, frame.data.message))}\n\n`;
      case 'cancelled':
        failed = true;
        return `data: ${encodeData(openAiFailure('cancelled', 'the generation was cancelled'))}\n\n`;
      case 'done': {
        let text = choice('{}', `"${openAiFinishReason(frame.data.finish_reason)}"`);
        if (options.includeUsage) {
          text += `${head}[],"usage":${encodeData(openAiUsage(frame.data.usage))}}\n\n`;
        }
        return text;
      }
      default:
        // metadata, thinking_done, redacted_thinking and frame types added later: nothing to say.
        return '';
    }
  };

  return {
    headers: STREAM_HEADERS,
    encode(log: LogReader, fromId: number, toId: number): string {
      let text = '';
      for (let id = fromId; id <= toId; id++) text += frameText(log, id);
      return text;
    },
    keepAlive: encodeComment('ping'),
    get trailer() {
      return failed ? '' : DONE_SENTINEL;
    },
  };
}
