import type { IncomingHttpHeaders } from 'node:http';

/**
 * The provider emulators: one engine (routing, pacing, fault injection, counters) and one
 * dialect per provider that knows only its wire format.
 */

/** What the engine needs to know of an incoming provider request. */
export interface EmulatedRequest {
  model: string;
  /** The last user message, used to make the answer. */
  prompt: string;
  tools: { name: string; parameters: unknown }[];
  /** The request asked for reasoning (and the dialect streams it). */
  thinking: boolean;
  maxTokens: number | undefined;
  stream: boolean;
  /** Dialect-specific switches read from the request (OpenAI's include_usage, ...). */
  flags: Record<string, unknown>;
  /**
   * The request carries on an answer that was cut off: the partial answer, and how it came
   * (`prefill`: a final assistant turn the API continues itself; `instruction`: an assistant
   * turn then a user turn asking to continue). `prompt` is then the question it answers.
   */
  continuation?: { partial: string; style: 'prefill' | 'instruction' };
}

/**
 * A request the emulated provider refuses with 400 before any stream, in its own words: the
 * message its API writes, and for OpenAI-style bodies the `param` and `code` it names.
 */
export interface EmulatedRefusal {
  error: string;
  param?: string;
  code?: string;
}

export interface EmulatedToolCall {
  id: string;
  name: string;
  /** Complete JSON text of the arguments. */
  arguments: string;
}

export interface EmulatedUsage {
  inputTokens: number;
  outputTokens: number;
  thinkingTokens: number;
}

export type EmulatedFinish = 'stop' | 'length' | 'tool_calls' | 'content_filter';

/** Per-response state a dialect may keep (ids, block indexes); created by `begin`. */
export interface ResponseContext {
  id: string;
  model: string;
  created: number;
  request: EmulatedRequest;
  /** Free-form state for the dialect. */
  state: Record<string, unknown>;
}

export type MidstreamErrorKind = 'overloaded' | 'server_error' | 'capacity';

/** A provider's wire format, as strings ready to write. */
export interface EmulatorDialect {
  provider: string;
  /** Path prefix under which this dialect is mounted on the shared emulator server. */
  mount: string;
  /** What follows the mount in the base URL the gateway is configured with (`/v1` for OpenAI). */
  baseSuffix: string;
  /** Matches a request path (after the mount prefix) and extracts path parameters. */
  route(method: string, path: string): { model?: string } | undefined;
  contentType: string;
  /** Whether the request carries credentials in this provider's way. */
  authorized(headers: IncomingHttpHeaders, url: URL): boolean;
  parseRequest(body: unknown, route: { model?: string }, url: URL): EmulatedRequest | EmulatedRefusal;
  /** Whether this dialect can stream reasoning for the request. */
  begin(context: ResponseContext): string[];
  thinking(text: string, context: ResponseContext): string[];
  text(text: string, context: ResponseContext): string[];
  /** A whole tool call; the dialect fragments it the way its provider does. */
  toolCall(call: EmulatedToolCall, index: number, context: ResponseContext): string[];
  /** The end of a complete answer: finish reason, usage, end marker. */
  finish(reason: EmulatedFinish, usage: EmulatedUsage, context: ResponseContext): string[];
  /** The provider's in-stream error event (after HTTP 200). */
  midstreamError(kind: MidstreamErrorKind, context: ResponseContext): string[];
  /** A non-2xx answer before any stream; a 400 for a refused request says why. */
  httpError(
    status: number,
    context: ResponseContext,
    refusal?: EmulatedRefusal,
  ): { headers: Record<string, string>; body: string };
  /** Bytes that do not parse in this provider's framing. */
  malformed(context: ResponseContext): string;
}

/** A fault a test injects; chosen by the test through the emulator's API, never by a prompt. */
export type Fault =
  | { type: 'http'; status: number; retryAfter?: string }
  /**
   * Destroy the socket after `afterChunks` content pieces; over HTTP/2, reset only that stream
   * (RST_STREAM).
   */
  | { type: 'reset'; afterChunks: number }
  /** Over HTTP/2, GOAWAY and close the whole connection after `afterChunks` pieces; over HTTP/1.1, as `reset`. */
  | { type: 'goaway'; afterChunks: number }
  /** Stop writing (socket stays open) after `afterChunks` content pieces. */
  | { type: 'stall'; afterChunks: number }
  | { type: 'malformed'; afterChunks: number }
  | { type: 'midstream_error'; afterChunks: number; kind?: MidstreamErrorKind }
  /** End the body cleanly without a finish reason. */
  | { type: 'no_finish'; afterChunks: number }
  /** The provider's moderation stop after `afterChunks` pieces. */
  | { type: 'content_filter'; afterChunks: number };

/** How one response is played. Every field is optional; defaults come from the server. */
export interface Scenario {
  /** Delay before the first byte of the body (after headers). */
  ttftMs?: number;
  /** Delay between content pieces. */
  chunkDelayMs?: number;
  /** Number of answer pieces (words) when `text` is not given. */
  chunks?: number;
  /** Exact answer text, split into pieces of about one word. */
  text?: string;
  /** Reasoning pieces streamed before the answer when the request asks for reasoning. */
  thinkingChunks?: number;
  /** Answer with a call to the request's first tool (default: when the request has tools). */
  toolCall?: boolean;
  finish?: EmulatedFinish;
  fault?: Fault;
}
