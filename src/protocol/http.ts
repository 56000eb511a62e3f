import type {
  ErrorData,
  FinishReason,
  FrameEvent,
  ProviderModel,
  Stats,
  ToolCallData,
  Usage,
} from './frames.js';

/**
 * The HTTP side of the Sluice wire contract (CONTRACT.md sections 2 to 4 and 7): routes,
 * response bodies, frame event names and stream headers, written once for the gateway, the
 * client library and the web page. Plain constants and types only (no Node imports), so the
 * browser loads it unchanged next to the client.
 */

const STREAM = '/api/v1/chat/stream';
const GENERATIONS = '/api/v1/generations';

/**
 * The native API's routes. Builders take a generation id as the gateway issued it and encode
 * it, so an id can never reach another route.
 */
export const API_PATHS = {
  /** `POST`: start a generation and stream it. */
  stream: STREAM,
  /** `POST`: the same as {@link API_PATHS.stream}, at the path some clients use. */
  streamAlias: '/v1/chat/stream',
  /** `GET`: {@link HealthBody}. */
  health: `${STREAM}/health`,
  /** `POST`: start a generation without streaming it; answers {@link CreatedGenerationBody}. */
  generations: GENERATIONS,
  /** `GET`: resume a generation's stream (`Last-Event-ID`, or the `last_event_id` query). */
  resume: (generationId: string): string => `${STREAM}/${encodeURIComponent(generationId)}`,
  /** `POST`: cancel a generation; answers {@link CancelBody}. */
  cancel: (generationId: string): string => `${STREAM}/${encodeURIComponent(generationId)}/cancel`,
  /** `GET`: {@link GenerationResult}. */
  generation: (generationId: string): string => `${GENERATIONS}/${encodeURIComponent(generationId)}`,
} as const;

/** The routes that name one generation, as {@link matchGenerationPath} tells them apart. */
export type GenerationRoute = 'resume' | 'cancel' | 'generation';

/** Generation ids as the gateway issues and accepts them. */
const GENERATION_ID = '([A-Za-z0-9_-]{1,64})';
const GENERATION_ROUTES: readonly (readonly [GenerationRoute, RegExp])[] = [
  ['cancel', new RegExp(`^${STREAM}/${GENERATION_ID}/cancel$`)],
  ['resume', new RegExp(`^${STREAM}/${GENERATION_ID}$`)],
  ['generation', new RegExp(`^${GENERATIONS}/${GENERATION_ID}$`)],
];

/**
 * Which per-generation route a request path (without query or trailing slash) is, and the id
 * it names; `undefined` for any other path, the health path included.
 */
export function matchGenerationPath(
  path: string,
): { route: GenerationRoute; generationId: string } | undefined {
  if (path === API_PATHS.health) return undefined;
  for (const [route, pattern] of GENERATION_ROUTES) {
    const match = pattern.exec(path);
    if (match?.[1] !== undefined) return { route, generationId: match[1] };
  }
  return undefined;
}

/**
 * Every frame event of the contract, in the order they can occur. A frame whose event is not
 * here is of a newer type: clients skip it, as the contract allows.
 */
export const FRAME_EVENTS = [
  'start',
  'metadata',
  'fallback',
  'thinking',
  'redacted_thinking',
  'thinking_done',
  'chunk',
  'tool_call_start',
  'tool_call',
  'recovered',
  'error',
  'cancelled',
  'done',
] as const satisfies readonly FrameEvent[];

// Fails to compile when the list misses an event of the `Frame` union (frames.ts); `satisfies`
// above refuses names that are not events.
type Holds<Condition extends true> = Condition;
type _EveryFrameEventListed = Holds<
  [Exclude<FrameEvent, (typeof FRAME_EVENTS)[number]>] extends [never] ? true : false
>;

/** The `data` of the last SSE event of a stream, after `done`. */
export const STREAM_END_DATA = '[DONE]';

/** The media type of a stream; `Accept` asks for it, and a stream's `Content-Type` starts with it. */
export const EVENT_STREAM_TYPE = 'text/event-stream';

/** Response header carrying the generation id of a stream (exposed to cross-origin readers). */
export const GENERATION_ID_HEADER = 'X-Generation-Id';

/** Request header naming the last frame id a resuming reader has. */
export const LAST_EVENT_ID_HEADER = 'Last-Event-ID';

/** Query parameter that stands in for {@link LAST_EVENT_ID_HEADER} (a plain link, no headers). */
export const LAST_EVENT_ID_QUERY = 'last_event_id';

/**
 * Headers every stream response carries, besides {@link GENERATION_ID_HEADER}: no caching and
 * no proxy buffering (nginx honours `X-Accel-Buffering`), so each frame arrives as it is sent.
 */
export const STREAM_HEADERS = {
  'Content-Type': `${EVENT_STREAM_TYPE}; charset=utf-8`,
  'Cache-Control': 'no-cache',
  'X-Accel-Buffering': 'no',
} as const;

/** A refusal before any stream started (any 4xx or 5xx with a JSON body). */
export interface ErrorBody<Code extends string = string> {
  error: {
    /** Stable and machine-readable: `invalid_request`, `unknown_provider`, `not_found`, ... */
    code: Code;
    message: string;
    /** The request field at fault, when one is. */
    field?: string;
  };
}

/** `POST /api/v1/chat/stream/{id}/cancel`: 200 when cancelled, 409 when it had already ended. */
export type CancelBody = { cancelled: true } | { cancelled: false; reason: string };

/** `POST /api/v1/generations`: 201. */
export interface CreatedGenerationBody {
  generation_id: string;
  /** Where a reader (a plain `EventSource` will do) follows it: `/api/v1/chat/stream/{id}`. */
  stream_url: string;
}

/** A tool call in a {@link GenerationResult}: the `tool_call` frame's data without the envelope. */
export type GenerationToolCall = Omit<ToolCallData, 'provider' | 'model'>;

/** The error that ended a generation, as a {@link GenerationResult} reports it. */
export type GenerationError = Pick<ErrorData, 'code' | 'message' | 'retryable' | 'partial'>;

/** `GET /api/v1/generations/{id}`: the accumulated result, while it runs and after. */
export interface GenerationResult {
  generation_id: string;
  status: 'running' | 'done';
  provider: string;
  model: string;
  /** Served by the built-in provider emulator. */
  emulated: boolean;
  text: string;
  thinking: string;
  tool_calls: GenerationToolCall[];
  /** `null` while running. */
  finish_reason: FinishReason | null;
  usage: Usage | null;
  stats: Stats | null;
  error: GenerationError | null;
  /** Who answered (after a fallback, not the provider asked for); `null` before anyone did. */
  served_by: ProviderModel | null;
  /** The `done` frame's `reasoning_state`: `null` while running or when there is none. */
  reasoning_state: unknown;
  /** Fields a newer gateway may add (the contract allows new optional fields). */
  [extra: string]: unknown;
}

/** What a provider can do with one model, as health reports it. */
export interface ModelCapabilitiesBody {
  reasoning: boolean;
  tools: boolean;
  reportsUsage: boolean;
}

/** One provider in {@link HealthBody}. */
export interface ProviderHealth {
  /** A key is configured (or none is needed): requests to it are accepted. */
  configured: boolean;
  /** Served by the built-in emulator (demo mode). */
  emulated: boolean;
  default_model?: string;
  /** The accepted models, or the suggested ones when any model is accepted. */
  models?: string[];
  /** Per model in `models`. */
  capabilities?: Record<string, ModelCapabilitiesBody>;
  /** An in-process provider's runtime (the local model): loaded, running, waiting, tokens generated. */
  runtime?: Record<string, unknown>;
  [extra: string]: unknown;
}

/** `GET /api/v1/chat/stream/health`. */
export interface HealthBody {
  status: 'ok' | 'shutting_down';
  version?: string;
  /** Keyless providers are served by the emulator. */
  demo?: boolean;
  /** Every route but health and the probes needs a gateway key (CONTRACT.md section 10). */
  auth?: boolean;
  providers: Record<string, ProviderHealth>;
  active_streams: number;
  /** Generations held (running and resumable). */
  stored_generations?: number;
  /** The process that answered (with several workers or instances, each has its own). */
  pid?: number;
  [extra: string]: unknown;
}
