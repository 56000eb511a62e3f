import type {
  DoneData,
  ErrorData,
  FallbackData,
  FinishReason,
  Frame,
  ProviderModel,
  Stats,
  Usage,
} from '../protocol/frames.js';
import { type CreatedGenerationBody, FRAME_EVENTS, type HealthBody } from '../protocol/http.js';

/**
 * The client's view of the wire contract (CONTRACT.md). Frame and body types come from the
 * protocol layer: frames.ts as type-only imports, http.ts (plain constants, no Node imports)
 * loaded as is, so nothing of the gateway ends up in the browser bundle.
 */

export type * from '../protocol/frames.js';
export type {
  CancelBody,
  ErrorBody,
  GenerationError,
  GenerationResult,
  GenerationToolCall,
  ModelCapabilitiesBody,
  ProviderHealth,
} from '../protocol/http.js';

/** A frame as the client yields it: the contract's union plus its SSE `id` (1, 2, 3, ...). */
export type StreamFrame = Frame & { id: number };

/** Frame events this client knows; frames of newer types are skipped, as the contract allows. */
export const KNOWN_EVENTS: ReadonlySet<string> = new Set(FRAME_EVENTS);

/** One message of a chat request (CONTRACT.md section 2). */
export interface ChatMessageInput {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string | null;
  tool_call_id?: string;
  tool_calls?: { id: string; type?: 'function'; function: { name: string; arguments: string } }[];
  /** On an assistant message: the `reasoning_state` of the `done` that ended that turn, unchanged. */
  reasoning_state?: unknown;
}

/** An OpenAI-style function tool. */
export interface ToolInput {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown> };
}

/** The body of `POST /api/v1/chat/stream` and `POST /api/v1/generations`. */
export interface ChatRequestBody {
  provider: string;
  model?: string | null;
  messages: ChatMessageInput[];
  temperature?: number | null;
  max_tokens?: number | null;
  /** `null` lets the model decide, `0` turns reasoning off, a positive number caps it. */
  thinking_budget?: number | null;
  include_thinking?: boolean | null;
  tools?: ToolInput[] | null;
  /** Output tokens (answer and reasoning) after which the stream ends with `length`. */
  token_budget?: number | null;
  /** Up to 4 providers tried in order when the request fails before its first content frame. */
  fallbacks?: { provider: string; model?: string | null }[] | null;
  /** Continue an answer whose upstream dropped after text went out. */
  recover?: boolean | null;
  /** No grace period: a client that goes away aborts the upstream at once. */
  cancel_on_disconnect?: boolean | null;
}

/** Options every call takes. */
export interface ClientOptions {
  /** The gateway's origin, e.g. `http://127.0.0.1:8000`. Empty means this page's origin (browsers). */
  baseUrl?: string;
  /**
   * The gateway key, for a gateway with keys (sent as `X-Api-Key`, so an `Authorization` of a
   * proxy in front of the gateway can still go in `headers`).
   */
  apiKey?: string | undefined;
  /** Extra request headers (an `Authorization` for a proxy in front of the gateway, ...). */
  headers?: Record<string, string>;
  /** Aborting it has the same effect as {@link ChatStream.abort}: stop reading, cancel upstream. */
  signal?: AbortSignal;
  /** A `fetch` to use instead of the global one. */
  fetch?: typeof fetch;
}

/** How a dropped stream is resumed. */
export interface ReconnectOptions {
  /** Reconnect attempts in a row without receiving a frame before giving up; 0 disables resuming. */
  maxAttempts: number;
  /** First backoff delay when the gateway sent no `retry:` (the server's value wins). */
  baseDelayMs: number;
  /** Cap on one backoff delay. */
  maxDelayMs: number;
}

/** What {@link StreamOptions.onReconnect} is told. */
export interface ReconnectEvent {
  /** 1 for the first attempt after frames last arrived, then 2, 3, ... while attempts keep failing. */
  attempt: number;
  /** The id of the last frame received: the resume asks for the frames after it. */
  lastEventId: number;
  /** How long the client waits (backoff) before it sends the resume request. */
  delayMs: number;
}

/** What {@link StreamOptions.onResume} is told. */
export interface ResumeEvent {
  /** Which attempt succeeded, counted as in {@link ReconnectEvent.attempt}. */
  attempt: number;
  /** The `Last-Event-ID` the resumed connection was opened with: frames after it follow. */
  lastEventId: number;
}

export interface StreamOptions extends ClientOptions {
  reconnect?: Partial<ReconnectOptions>;
  /**
   * A connection that delivers no byte (not even a keep-alive comment) for this long counts as
   * dropped and is resumed. The gateway pings every 15 s. 0 disables. Default 45000.
   */
  idleTimeoutMs?: number;
  /**
   * Called when the stream's connection dropped before `done` (a network error, a close without
   * `[DONE]`, or `idleTimeoutMs` of silence) and the client is about to resume it, before the
   * backoff wait; called again before each further attempt when one fails. Not called when
   * the client gives up instead (no generation id yet, `reconnect.maxAttempts` used up) or the
   * stream was aborted. A hook that throws ends the stream with that error.
   */
  onReconnect?: (event: ReconnectEvent) => void;
  /**
   * Called when a resume attempt got the gateway's stream response (headers in, before its
   * first frame), with the last event id it resumed from. Not called for the first connection,
   * nor for the one `resumeStream` opens itself. A hook that throws ends the stream with that
   * error.
   */
  onResume?: (event: ResumeEvent) => void;
}

export interface ResumeOptions extends StreamOptions {
  /** Resume after this frame id (0 or absent: from the first frame). */
  lastEventId?: number;
}

/** A tool call as accumulated from `tool_call_start` and `tool_call` frames. */
export interface ToolCallState {
  index: number;
  id: string;
  name: string;
  /** The complete JSON arguments; `null` until the `tool_call` frame arrives. */
  arguments: string | null;
}

/** Timing as the client sees it, plus the gateway's own `done.stats` once it arrives. */
export interface LiveStats {
  /** From the call to the first answer or reasoning text (or tool call); `null` before it. */
  ttftMs: number | null;
  /** From the call to now, or to the end of the stream. */
  elapsedMs: number;
  /** Output tokens so far: the gateway's count after `done`, else an estimate (4 characters a token). */
  outputTokens: number;
  /** Output speed since the first token; the gateway's figure after `done`. */
  tokensPerSecond: number | null;
  /** Attempts made to resume this stream after a dropped connection. */
  reconnects: number;
  /** `done.stats` from the gateway. */
  final: Stats | null;
}

/** What a stream accumulated, as `ChatStream.result` resolves it. */
export interface ChatResult {
  generationId: string | null;
  provider: string | null;
  model: string | null;
  text: string;
  thinking: string;
  toolCalls: ToolCallState[];
  /** `null` when the stream was aborted by this client before `done`. */
  finishReason: FinishReason | null;
  usage: Usage | null;
  /** The last `error` frame's data. */
  error: ErrorData | null;
  /** Who answered (differs from `provider`/`model` after a fallback). */
  servedBy: ProviderModel | null;
  /** The `done` frame's `reasoning_state`: send it back on this turn's assistant message. */
  reasoningState: unknown;
  /** The `fallback` frames of this stream, in order. */
  fallbacks: FallbackData[];
  /** How many times a dropped answer was continued (`recovered` frames). */
  recoveries: number;
  stats: LiveStats;
  /** The caller aborted the stream (it was cancelled upstream). */
  aborted: boolean;
  /** The `done` frame, when one arrived. */
  done: DoneData | null;
}

/** `POST /api/v1/generations` answer. */
export type StartedGeneration = CreatedGenerationBody;

/** `GET /api/v1/chat/stream/health` answer. */
export type HealthResult = HealthBody;
