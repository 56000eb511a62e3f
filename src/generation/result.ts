import type { Frame } from '../protocol/frames.js';
import type { GenerationResult } from '../protocol/http.js';

export type { GenerationResult };

/**
 * The accumulated result of a generation, folded from its frames: the log is the one source,
 * so a generation read on the instance that runs it and one read through Redis answer alike.
 */
export function resultOf(id: string, frames: Iterable<Frame>, ended: boolean): GenerationResult {
  const text: string[] = [];
  const thinking: string[] = [];
  const result: GenerationResult = {
    generation_id: id,
    status: ended ? 'done' : 'running',
    provider: '',
    model: '',
    emulated: false,
    text: '',
    thinking: '',
    tool_calls: [],
    finish_reason: null,
    usage: null,
    stats: null,
    error: null,
    served_by: null,
    reasoning_state: null,
  };
  for (const frame of frames) {
    switch (frame.event) {
      case 'start':
        result.provider = frame.data.provider;
        result.model = frame.data.model;
        result.emulated = frame.data.emulated;
        break;
      case 'metadata':
        result.served_by = frame.data.served_by ?? null;
        break;
      case 'chunk':
        text.push(frame.data.delta_text);
        break;
      case 'thinking':
        thinking.push(frame.data.delta_text);
        break;
      case 'tool_call': {
        const { index, id: callId, name, arguments: callArguments } = frame.data;
        result.tool_calls.push({ index, id: callId, name, arguments: callArguments });
        break;
      }
      case 'error': {
        const { code, message, retryable, partial } = frame.data;
        result.error = { code, message, retryable, partial };
        break;
      }
      case 'done':
        result.finish_reason = frame.data.finish_reason;
        result.usage = frame.data.usage;
        result.stats = frame.data.stats;
        result.served_by = frame.data.served_by ?? result.served_by;
        result.reasoning_state = frame.data.reasoning_state ?? null;
        break;
      default:
        break;
    }
  }
  result.text = text.join('');
  result.thinking = thinking.join('');
  return result;
}
