/**
 * The frames of the Sluice wire contract (CONTRACT.md section 3): one discriminated union,
 * keyed by `event`, whose `data` is exactly what goes on the wire as JSON.
 */

export const FINISH_REASONS = [
  'stop',
  'length',
  'tool_calls',
  'content_filter',
  'error',
  'cancelled',
] as const;
export type FinishReason = (typeof FINISH_REASONS)[number];

export const STREAM_ERROR_CODES = [
  'timeout',
  'rate_limited',
  'overloaded',
  'upstream_error',
  'upstream_disconnected',
  'content_filter',
  'incomplete',
  'provider_auth',
  'bad_request',
  'internal',
] as const;
export type StreamErrorCode = (typeof STREAM_ERROR_CODES)[number];

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  thinking_tokens: number | null;
  total_tokens: number;
  /** True where the provider reported no counts and the gateway counted with a tokenizer. */
  estimated: boolean;
}

export interface Stats {
  ttft_ms: number | null;
  duration_ms: number;
  output_tokens_per_second: number | null;
  attempts: number;
}

/** Fields every frame carries: the provider and model the request asked for. */
export interface Envelope {
  provider: string;
  model: string;
}

export interface StartData extends Envelope {
  generation_id: string;
  created: number;
  emulated: boolean;
  /** The request's `X-Request-Id` (its own, or one the gateway made). */
  request_id?: string;
}
export interface MetadataData extends Envelope {
  upstream_id: string | null;
  upstream_model: string | null;
  input_tokens?: number;
}
export interface DeltaData extends Envelope {
  delta_text: string;
}
export interface ChunkData extends Envelope {
  delta_text: string;
  finish_reason: null;
  usage: null;
}
export interface ToolCallStartData extends Envelope {
  index: number;
  id: string;
  name: string;
}
export interface ToolCallData extends ToolCallStartData {
  arguments: string;
}
export interface ErrorData extends Envelope {
  code: StreamErrorCode;
  message: string;
  retryable: boolean;
  /** Answer text (or reasoning, or a tool call) was already sent before the error. */
  partial: boolean;
}
export interface DoneData extends Envelope {
  finish_reason: FinishReason;
  usage: Usage;
  stats: Stats;
}

export type Frame =
  | { event: 'start'; data: StartData }
  | { event: 'metadata'; data: MetadataData }
  | { event: 'thinking'; data: DeltaData }
  | { event: 'redacted_thinking'; data: Envelope }
  | { event: 'thinking_done'; data: Envelope }
  | { event: 'chunk'; data: ChunkData }
  | { event: 'tool_call_start'; data: ToolCallStartData }
  | { event: 'tool_call'; data: ToolCallData }
  | { event: 'error'; data: ErrorData }
  | { event: 'cancelled'; data: Envelope }
  | { event: 'done'; data: DoneData };

export type FrameEvent = Frame['event'];
