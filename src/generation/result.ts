import type { ErrorData, FinishReason, Frame, Stats, ToolCallData, Usage } from '../protocol/frames.js';

/** The body of `GET /api/v1/generations/{id}` (CONTRACT.md section 4). */
export interface GenerationResult {
  generation_id: string;
  status: 'running' | 'done';
  provider: string;
  model: string;
  emulated: boolean;
  text: string;
  thinking: string;
  tool_calls: Omit<ToolCallData, 'provider' | 'model'>[];
  finish_reason: FinishReason | null;
  usage: Usage | null;
  stats: Stats | null;
  error: Pick<ErrorData, 'code' | 'message' | 'retryable' | 'partial'> | null;
}

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
  };
  for (const frame of frames) {
    switch (frame.event) {
      case 'start':
        result.provider = frame.data.provider;
        result.model = frame.data.model;
        result.emulated = frame.data.emulated;
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
        break;
      default:
        break;
    }
  }
  result.text = text.join('');
  result.thinking = thinking.join('');
  return result;
}
