import type { StreamErrorCode } from '../../protocol/frames.js';

/**
 * The local provider's own wire: what the in-process engine writes and its codec reads, one JSON
 * object per NDJSON line. Going through bytes like every other provider means the same parser,
 * codec, emitter, retries, timers and log serve the local model unchanged.
 */

/** What a request asks of the local model (the body `buildRequest` makes and the engine reads). */
export interface LocalRequest {
  /** The conversation, in order; the model answers after the last message. */
  messages: { role: 'system' | 'user' | 'assistant'; text: string }[];
  temperature: number | null;
  maxTokens: number | null;
  /** `null`: the model decides; `0`: no reasoning; a positive number caps reasoning tokens. */
  thinkingBudget: number | null;
}

/**
 * Every count is the runtime's own, cumulative for the generation: `output_tokens` counts every
 * token the model sampled (answer, reasoning and the end-of-turn token), `thinking_tokens` those
 * inside reasoning, `input_tokens` the rendered prompt as the model's tokenizer splits it.
 */
export type LocalLine =
  /** Waiting for a free slot: `position` requests are ahead (sent again while it waits). */
  | { type: 'queued'; position: number }
  /** The model is being loaded (once per gateway); `progress` from 0 to 1. */
  | { type: 'loading'; progress: number }
  /** Generation began: the prompt is rendered and counted. */
  | { type: 'start'; model: string; input_tokens: number }
  | { type: 'text'; text: string; output_tokens: number }
  | { type: 'thinking'; text: string; output_tokens: number; thinking_tokens: number }
  /** The model stopped on its own (`stop`) or at the token limit (`length`); `stop_reason` is the runtime's word. */
  | {
      type: 'finish';
      reason: 'stop' | 'length';
      stop_reason: string;
      output_tokens: number;
      thinking_tokens: number | null;
    }
  | { type: 'error'; code: StreamErrorCode; message: string; retryable: boolean };

/** One line of the wire, newline included. */
export function encodeLine(line: LocalLine): string {
  return `${JSON.stringify(line)}\n`;
}
