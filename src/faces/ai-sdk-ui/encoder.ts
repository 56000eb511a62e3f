import { DONE_SENTINEL, encodeComment, encodeData } from '../../core/sse-encode.js';
import type { LogReader } from '../../generation/log.js';
import type { StreamEncoder } from '../types.js';

/**
 * A generation as the AI SDK's UI message stream, protocol v1 (what `useChat` and
 * `readUIMessageStream` read): SSE `data:` lines of typed chunks, `[DONE]` last. Text and
 * reasoning each come as start, deltas and end of a part; a tool call as input start, its whole
 * input as one delta, then the parsed input. Only chunk fields that every AI SDK 5 and 6 release
 * accepts (5.0's schema refuses unknown ones), but `tool-input-error` for arguments that are not
 * JSON, which 5.0 lacks.
 */

export const UI_MESSAGE_STREAM_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache',
  'X-Accel-Buffering': 'no',
  'x-vercel-ai-ui-message-stream': 'v1',
} as const;

const chunk = (value: Record<string, unknown>): string => `data: ${encodeData(value)}\n\n`;

/** The parsed input of a tool call, or why it has none. */
function parsedInput(text: string): { input: unknown } | { error: string } {
  if (text.trim() === '') return { input: {} };
  try {
    return { input: JSON.parse(text) };
  } catch {
    return { error: 'the tool call arguments are not JSON' };
  }
}

/** One encoder per response: it knows which part is open and numbers parts as it opens them. */
export function uiMessageEncoder(generationId: string): StreamEncoder {
  let open: { kind: 'text' | 'reasoning'; id: string } | undefined;
  let parts = 0;
  const startedCalls = new Set<number>();

  const close = (): string => {
    if (open === undefined) return '';
    const text = chunk({ type: `${open.kind}-end`, id: open.id });
    open = undefined;
    return text;
  };
  const delta = (kind: 'text' | 'reasoning', text: string): string => {
    let out = '';
    if (open?.kind !== kind) {
      out += close();
      parts++;
      open = { kind, id: `${kind}-${parts}` };
      out += chunk({ type: `${kind}-start`, id: open.id });
    }
    return `${out}${chunk({ type: `${kind}-delta`, id: open.id, delta: text })}`;
  };

  const frameText = (log: LogReader, id: number): string => {
    const frame = log.frame(id);
    switch (frame.event) {
      case 'start': {
        const { provider, model } = frame.data;
        return (
          chunk({
            type: 'start',
            messageId: generationId,
            messageMetadata: { generation_id: generationId, provider, model },
          }) + chunk({ type: 'start-step' })
        );
      }
      case 'thinking':
        return delta('reasoning', frame.data.delta_text);
      case 'thinking_done':
        return open?.kind === 'reasoning' ? close() : '';
      case 'chunk':
        return delta('text', frame.data.delta_text);
      case 'tool_call_start':
        startedCalls.add(frame.data.index);
        return (
          close() + chunk({ type: 'tool-input-start', toolCallId: frame.data.id, toolName: frame.data.name })
        );
      case 'tool_call': {
        const { index, id: toolCallId, name: toolName, arguments: text } = frame.data;
        let out = close();
        if (!startedCalls.has(index)) {
          startedCalls.add(index);
          out += chunk({ type: 'tool-input-start', toolCallId, toolName });
        }
        out += chunk({ type: 'tool-input-delta', toolCallId, inputTextDelta: text });
        const parsed = parsedInput(text);
        return (
          out +
          ('input' in parsed
            ? chunk({ type: 'tool-input-available', toolCallId, toolName, input: parsed.input })
            : chunk({ type: 'tool-input-error', toolCallId, toolName, input: text, errorText: parsed.error }))
        );
      }
      case 'error':
        // A moderation stop is told by the finish reason, as the AI SDK's own streams tell it.
        if (frame.data.code === 'content_filter') return close();
        return close() + chunk({ type: 'error', errorText: `${frame.data.code}: ${frame.data.message}` });
      case 'cancelled':
        return close() + chunk({ type: 'abort' });
      case 'done': {
        if (frame.data.finish_reason === 'cancelled') return '';
        const { finish_reason: finishReason, usage } = frame.data;
        return (
          close() +
          chunk({ type: 'finish-step' }) +
          // The reason is in the metadata: AI SDK 5.0's strict chunk schema has no `finishReason`.
          chunk({
            type: 'finish',
            messageMetadata: { generation_id: generationId, finish_reason: finishReason, usage },
          })
        );
      }
      default:
        // metadata, redacted reasoning and frame types added later have no UI part.
        return '';
    }
  };

  return {
    headers: UI_MESSAGE_STREAM_HEADERS,
    encode(log: LogReader, fromId: number, toId: number): string {
      let text = '';
      for (let id = fromId; id <= toId; id++) text += frameText(log, id);
      return text;
    },
    keepAlive: encodeComment('ping'),
    trailer: DONE_SENTINEL,
  };
}
