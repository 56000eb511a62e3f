import type { StreamFailure, UpstreamError } from '../core/errors.js';
import type { Framing, JsonReader, WireEvent } from '../core/wire-parse.js';
import type { FinishReason } from '../protocol/frames.js';
import type { ChatRequest } from '../protocol/request.js';
import type { ResponseHeaders, UpstreamRequest, UpstreamResponse } from '../upstream/transport.js';

/**
 * What a provider codec says about its stream, before the generation layer wraps it in the
 * contract's envelope (provider, model, ids), suppresses reasoning when asked, inserts
 * `thinking_done`, and decides the final finish reason.
 */
export type CodecPart =
  | { type: 'metadata'; upstreamId: string | null; upstreamModel: string | null; inputTokens?: number }
  | { type: 'thinking'; text: string }
  | { type: 'redacted_thinking' }
  | { type: 'text'; text: string }
  | { type: 'tool_call_start'; index: number; id: string; name: string }
  | { type: 'tool_call'; index: number; id: string; name: string; arguments: string }
  /**
   * Reasoning the provider needs back in the next turn (a signed thinking block, a redacted
   * block, a thought signature), in the provider's own terms: the gateway collects the items
   * into `done.reasoning_state` and the provider's request mapping reads them back.
   */
  | { type: 'reasoning_state'; item: Record<string, unknown> }
  /** Counts reported so far; a later report replaces the fields it carries. */
  | { type: 'usage'; usage: Partial<UsageCounts> }
  /** The upstream's finish reason, mapped onto the contract's (`error`/`cancelled` are never used here). */
  | { type: 'finish'; reason: Exclude<FinishReason, 'error' | 'cancelled'>; rawReason: string }
  | ({ type: 'error' } & StreamFailure);

/**
 * How a provider continues an answer: `prefill` when its API carries on a final assistant turn
 * itself (Anthropic, Ollama), `instruction` when a user turn has to ask for it.
 */
export type ContinuationStyle = 'prefill' | 'instruction';

export interface UsageCounts {
  inputTokens: number;
  outputTokens: number;
  thinkingTokens: number;
}

/** A pure state machine from parsed wire events to parts. No I/O, no timers. */
export interface StreamCodec {
  push(event: WireEvent): CodecPart[];
  /** The upstream body ended. A stream with no finish reason by then is incomplete. */
  end(): CodecPart[];
}

export interface ModelCapabilities {
  /** The model can reason, so a positive `thinking_budget` is accepted. */
  reasoning: boolean;
  /** Tool calls are supported (and streamed). */
  tools: boolean;
  /** The stream reports token usage; otherwise the gateway estimates it. */
  reportsUsage: boolean;
  /**
   * The most `max_tokens` the provider accepts for this model, when the provider folder knows
   * it; a larger value is refused before the stream. Undefined for models it does not know.
   */
  maxOutputTokens: number | undefined;
}

export interface ProviderSettings {
  apiKey: string | undefined;
  baseUrl: string;
}

/**
 * How one gateway set up a provider that runs in its own process (`ProviderDefinition.configure`):
 * what it serves here, and whether it can.
 */
export interface ProviderSetup {
  /** This gateway's definition of the provider: its models as configured here, `openUpstream` bound to them. */
  readonly definition: ProviderDefinition;
  /** Why it cannot serve now (not configured, its runtime missing or failed), else undefined: a 4xx before any stream. */
  unavailable(): string | undefined;
  /** Why a request arriving now would have to wait past every bound, else undefined: a 503 before any stream. */
  busy(): string | undefined;
  /** Fields added to the provider's entry in health. */
  status(): Record<string, unknown>;
  /** Stops what it runs and frees what it holds; the gateway calls it once, when it closes. */
  close(): Promise<void>;
}

/** A refusal of the request by provider rules, before any stream starts. */
export interface ProviderIssue {
  code: 'invalid_request' | 'model_not_supported' | 'thinking_not_supported';
  message: string;
  field: string;
}

/**
 * One provider: a folder with its request mapping, codec and error mapping. The registry holds
 * one of these per provider id; nothing outside the folder knows its wire. The folder's emulator
 * dialect is registered in `src/emulators/dialects.ts`, not here, so the gateway never loads it.
 */
export interface ProviderDefinition {
  id: string;
  displayName: string;
  defaultModel: string;
  /** When set, the only models accepted; others get `model_not_supported`. */
  models?: readonly string[];
  /** Suggested models, for the web page and the CLI (any model may be accepted when `models` is unset). */
  suggestedModels: readonly string[];
  framing: Framing;
  /** Environment variables holding the key (first set wins); none for keyless providers. */
  apiKeyEnv: readonly string[];
  baseUrlEnv: string;
  defaultBaseUrl: string;
  /** First wait before a retry; the contract's default is 1000 ms (Anthropic 2000). */
  retryBaseMs?: number;
  /** Idle timeout override when the provider is known to pause longer (Together). */
  idleTimeoutMs?: number;
  /**
   * The upstream speaks only HTTP/1.1 (Ollama's server): never HTTP/2, whatever
   * `SLUICE_UPSTREAM_HTTP2` says.
   */
  http1Only?: boolean;
  capabilities(model: string): ModelCapabilities;
  /** Provider-specific limits, checked before the stream starts. */
  validate?(request: ChatRequest, model: string): ProviderIssue | undefined;
  buildRequest(request: ChatRequest, model: string, settings: ProviderSettings): UpstreamRequest;
  createCodec(): StreamCodec;
  /**
   * A reader of one stream's JSON events, faster than `JSON.parse` on the shapes the provider
   * sends most (JSON.parse when absent). It returns what `JSON.parse` would, or a stand-in that
   * this provider's codec reads exactly as it would read that value.
   */
  createJsonReader?(): JsonReader;
  /** Maps a non-2xx upstream response to the stream error it means. */
  mapHttpError(status: number, bodyText: string, headers: ResponseHeaders): UpstreamError;
  /**
   * How an answer whose upstream dropped is continued (`recover: true`): `prefill` when the API
   * continues a final assistant turn itself, `instruction` when a user turn must ask for it.
   */
  continuation: ContinuationStyle;
  /** A sentence for a refused connection ("is Ollama running ...?"), naming no address. */
  describeConnectionFailure?(): string;
  /**
   * Providers that run in the gateway's process (the local model) instead of over HTTP: reads
   * their settings when a gateway starts (cheaply: nothing heavy is loaded before first use).
   */
  configure?(
    env: Readonly<Record<string, string | undefined>>,
    options: { demo: boolean },
  ): Promise<ProviderSetup>;
  /**
   * Answers one attempt in place of the HTTP transport, with the same shape: a status, and a body
   * in the provider's own `framing` that its codec reads. The signal is the attempt's (cancel,
   * idle timeout, shutdown); when it aborts, the body errors and the work behind it stops.
   */
  openUpstream?(upstreamRequest: UpstreamRequest, signal: AbortSignal): Promise<UpstreamResponse>;
}
