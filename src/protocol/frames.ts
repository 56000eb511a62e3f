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
  /** Present when the request had a `token_budget`: the stream was cut at that budget. */
  budget_hit?: boolean;
}

/** A provider and model that served (or was asked to serve) a request. */
export interface ProviderModel {
  provider: string;
  model: string;
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
  /** Who answered: differs from `provider`/`model` after a fallback. */
  served_by: ProviderModel;
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
/** A switch to the next entry of the request's `fallbacks`, before any content went out. */
export interface FallbackData extends Envelope {
  from: ProviderModel;
  to: ProviderModel;
  /** The error code that ended the previous provider's attempts. */
  code: StreamErrorCode;
}
/** A dropped answer is continued (`recover: true`): the text that follows carries on from it. */
export interface RecoveredData extends Envelope {
  /** 1 for the first continuation, then 2. */
  attempt: number;
  /** Answer characters (Unicode code points) sent before the continuation. */
  after_chars: number;
}
export interface DoneData extends Envelope {
  finish_reason: FinishReason;
  usage: Usage;
  stats: Stats;
  /** Who answered (the last provider tried when none did). */
  served_by: ProviderModel;
  /**
   * Reasoning the provider needs back in the next turn (signed thinking blocks, thought
   * signatures): opaque, to be sent unchanged as the assistant message's `reasoning_state`.
   */
  reasoning_state: unknown;
}

export type Frame =
  | { event: 'start'; data: StartData }
  | { event: 'metadata'; data: MetadataData }
  | { event: 'fallback'; data: FallbackData }
  | { event: 'thinking'; data: DeltaData }
  | { event: 'redacted_thinking'; data: Envelope }
  | { event: 'thinking_done'; data: Envelope }
  | { event: 'chunk'; data: ChunkData }
  | { event: 'tool_call_start'; data: ToolCallStartData }
  | { event: 'tool_call'; data: ToolCallData }
  | { event: 'recovered'; data: RecoveredData }
  | { event: 'error'; data: ErrorData }
  | { event: 'cancelled'; data: Envelope }
  | { event: 'done'; data: DoneData };

export type FrameEvent = Frame['event'];
