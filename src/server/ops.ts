import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiKey, Settings } from '../config.js';
import { RequestError } from '../core/errors.js';
import type { Generation } from '../generation/generation.js';
import type { LogReader } from '../generation/log.js';
import type { GenerationStore } from '../generation/store.js';
import { type KeyRing, STREAM_TOKEN_QUERY } from '../ops/auth.js';
import type { LimitPolicy, Limits, StreamSlot } from '../ops/limits.js';
import type { Logger } from '../ops/logging.js';
import type { GatewayMetrics } from '../ops/metrics.js';
import {
  parseTraceparent,
  REQUEST_ID_HEADER,
  requestIdOf,
  startGenerationSpan,
  TRACEPARENT_HEADER,
  TRACESTATE_HEADER,
  type TraceParent,
} from '../ops/tracing.js';
import { GENERATION_ID_HEADER } from '../protocol/http.js';
import type { ChatRequest } from '../protocol/request.js';

/**
 * The operational side of the gateway (CONTRACT.md section 10), composed around the routes:
 * request ids and traces, keys, limits, metrics and logs. Nothing here runs inside the codecs
 * or the frame pipeline; what a generation needs from it (its request id, the headers that carry
 * the trace upstream) is handed to the run when it starts.
 */

/** What the operational side knows of one request, from its arrival to its answer. */
export interface CallScope {
  readonly requestId: string;
  readonly traceparent: TraceParent | undefined;
  readonly tracestate: string | undefined;
  /** The key that authenticated the request (its id), if any. */
  keyId: string | undefined;
  /** Who the request acts for: its key, or its client address when the gateway has no keys. */
  owner: string;
  /** The route's label (`/api/v1/chat/stream/{id}`), once a route matched. */
  route: string | undefined;
  /** The error code a refusal answered with, for the log. */
  refusal: string | undefined;
  /** Writes log lines that carry the request id (none when logging is off). */
  readonly log: ScopeLog | undefined;
  /** The answer: limits put their `RateLimit-*` headers on it. */
  readonly response: ServerResponse;
}

/** Log lines of one request: each carries its request id. */
export interface ScopeLog {
  info(fields: Record<string, unknown>, message: string): void;
  debug(fields: () => Record<string, unknown>, message: string): void;
}

/** What a route tells the operational side about itself. */
export interface RouteAccess {
  /** Answers without a key (health, probes). */
  public?: boolean | undefined;
  /** A `stream_url` token may stand in for a key (resume). */
  streamToken?: boolean | undefined;
}

export interface OpsParts {
  settings: Settings;
  store: GenerationStore;
  keys: KeyRing;
  limits: Limits | undefined;
  metrics: GatewayMetrics | undefined;
  logger: Logger | undefined;
}

/** What a generation's run is given by the operational side. */
export interface RunExtras {
  requestId: string | undefined;
  upstreamHeaders: Record<string, string>;
}

/** A request admitted under its limits; `started` or `abandoned` settles it. */
export interface Admitted {
  started(generation: Generation, chat: ChatRequest): RunExtras;
  /** The generation did not start after all (the store refused it). */
  abandoned(): void;
}

const unauthorized = (message: string): RequestError => new RequestError('unauthorized', message);

export class GatewayOps {
  private readonly keysById: ReadonlyMap<string, ApiKey>;
  /** Policies by key id ('' without a key); keys are fixed at start, so this stays small. */
  private readonly policies = new Map<string, LimitPolicy>();

  constructor(private readonly parts: OpsParts) {
    this.keysById = new Map(parts.settings.apiKeys.map((key) => [key.id, key]));
  }

  get metrics(): GatewayMetrics | undefined {
    return this.parts.metrics;
  }

  /** Whether requests need a gateway key. */
  get authEnabled(): boolean {
    return this.parts.keys.enabled;
  }

  /**
   * The scope of a request that just arrived: its request id (echoed on the answer at once) and
   * trace context; and, when the answer is complete, its metrics and, for a refusal, a log line.
   */
  begin(request: IncomingMessage, response: ServerResponse): CallScope {
    const requestId = requestIdOf(request.headers['x-request-id']);
    response.setHeader(REQUEST_ID_HEADER, requestId);
    const traceparent = parseTraceparent(request.headers[TRACEPARENT_HEADER]);
    const tracestate = request.headers[TRACESTATE_HEADER];
    const logger = this.parts.logger;
    // Lines name the request id themselves: cheaper than a child logger per request.
    const log: ScopeLog | undefined =
      logger === undefined
        ? undefined
        : {
            info: (fields, message) => logger.info({ request_id: requestId, ...fields }, message),
            debug: (fields, message) => {
              if (logger.isLevelEnabled('debug'))
                logger.debug({ request_id: requestId, ...fields() }, message);
            },
          };
    const scope: CallScope = {
      requestId,
      traceparent,
      tracestate: Array.isArray(tracestate) ? tracestate.join(',') : tracestate,
      keyId: undefined,
      owner: request.socket.remoteAddress ?? '',
      route: undefined,
      refusal: undefined,
      response,
      log,
    };
    const { metrics } = this.parts;
    if (metrics !== undefined || logger !== undefined) {
      // A response emits 'close' once: a tick after 'finish' when the answer was handed to the
      // socket, or when the client left before that.
      response.on('close', () => this.answered(request, response, scope));
    }
    return scope;
  }

  private answered(request: IncomingMessage, response: ServerResponse, scope: CallScope): void {
    const route = scope.route ?? 'unmatched';
    const status = response.headersSent ? response.statusCode : 0;
    this.parts.metrics?.requestAnswered(route, status);
    const log = scope.log;
    if (log === undefined) return;
    const line = () => ({
      method: request.method,
      route,
      status,
      // Undefined fields are left out of the line (pino drops them).
      key: scope.keyId,
      code: scope.refusal,
    });
    if (status >= 400 || status === 0)
      log.info(line(), status === 0 ? 'request abandoned' : 'request refused');
    else log.debug(line, 'request answered');
  }

  /**
   * Once a route matched: the key it needs (or a stream token standing in for one), and, for a
   * path that names a generation, that the generation belongs to the request's key.
   * Throws `unauthorized` (401) or `not_found` (404: another key's generation).
   */
  async authorize(
    access: RouteAccess,
    request: IncomingMessage,
    url: URL,
    generationId: string | undefined,
    scope: CallScope,
  ): Promise<void> {
    const { keys, store } = this.parts;
    if (!keys.enabled || access.public) return;
    const identity = keys.identify(request.headers);
    if (identity.kind === 'key') {
      scope.keyId = identity.keyId;
      scope.owner = identity.keyId;
      if (generationId !== undefined) {
        const owner = await store.ownerOf(generationId);
        // Another key's generation is as unknown as an expired one.
        if (owner !== undefined && owner !== identity.keyId) {
          throw new RequestError('not_found', 'unknown or expired generation id');
        }
      }
      return;
    }
    const token = url.searchParams.get(STREAM_TOKEN_QUERY);
    if (identity.kind === 'none' && access.streamToken && generationId !== undefined && token !== null) {
      const owner = await store.ownerOf(generationId);
      if (owner === undefined) throw new RequestError('not_found', 'unknown or expired generation id');
      if (!keys.checkStreamToken(owner, generationId, token)) {
        throw unauthorized('the stream token is not valid for this generation');
      }
      scope.keyId = owner;
      scope.owner = owner;
      return;
    }
    throw unauthorized(
      identity.kind === 'invalid'
        ? 'the gateway key is not valid'
        : 'a gateway key is required: Authorization: Bearer <key> or X-Api-Key: <key>',
    );
  }

  /** The `stream_url` token of a generation started by `scope`'s key; undefined without keys. */
  streamToken(scope: CallScope | undefined, generationId: string): string | undefined {
    if (scope?.keyId === undefined) return undefined;
    return this.parts.keys.streamToken(scope.keyId, generationId);
  }

  /** The limits of a key (its own over the gateway's), one object per key for the whole run. */
  private policyFor(scope: CallScope | undefined): LimitPolicy {
    const keyId = scope?.keyId ?? '';
    let policy = this.policies.get(keyId);
    if (policy === undefined) {
      const { settings } = this.parts;
      const own = this.keysById.get(keyId)?.limits;
      policy = {
        rate: own?.rate ?? settings.rateLimit,
        maxStreams: own?.max_streams ?? settings.maxStreamsPerKey,
        tokensPerMin: own?.tokens_per_min ?? settings.tokensPerMin,
      };
      this.policies.set(keyId, policy);
    }
    return policy;
  }

  /**
   * Admits a request that starts a generation under its key's limits, setting the `RateLimit-*`
   * headers on its answer; throws `rate_limited` (429, with `Retry-After`) past one.
   */
  async admit(scope: CallScope | undefined): Promise<Admitted> {
    const policy = this.policyFor(scope);
    const { limits } = this.parts;
    let slot: StreamSlot | undefined;
    if (
      limits !== undefined &&
      (policy.rate !== undefined || policy.maxStreams !== undefined || policy.tokensPerMin !== undefined)
    ) {
      const admission = await limits.admit(scope?.owner ?? '', policy);
      const response = scope?.response;
      if (response !== undefined && !response.headersSent) {
        for (const [name, value] of Object.entries(admission.headers)) response.setHeader(name, value);
      }
      if (!admission.admitted) throw new RequestError('rate_limited', admission.message);
      slot = admission.slot;
    }
    return {
      started: (generation, chat) => this.watch(generation, chat, scope, policy, slot),
      abandoned: () => slot?.release(),
    };
  }

  /** Follows a started generation to its end: its span, live token count, metrics and log line. */
  private watch(
    generation: Generation,
    chat: ChatRequest,
    scope: CallScope | undefined,
    policy: LimitPolicy,
    slot: StreamSlot | undefined,
  ): RunExtras {
    const requestId = scope?.requestId;
    const span = startGenerationSpan({
      provider: generation.provider,
      model: generation.model,
      requestId: requestId ?? '',
      generationId: generation.id,
      parent: scope?.traceparent,
      tracestate: scope?.tracestate,
      maxTokens: chat.max_tokens,
      temperature: chat.temperature,
    });
    const { limits, metrics, logger } = this.parts;
    // The live count reads the frames appended since it last looked, a few times a second:
    // nothing is added to the path of each frame.
    const log = generation.log;
    let seen = 0;
    const produced = (): number => {
      const last = log.lastId;
      let characters = 0;
      for (let id = seen + 1; id <= last; id++) {
        characters += log.text(id)?.length ?? 0;
      }
      seen = last;
      return characters;
    };
    const meter = limits?.tokenMeter(scope?.owner ?? '', policy, produced);
    // The slot is given back before `done` is written: a client that starts its next stream the
    // moment it reads `done` is not refused for the one that just ended.
    if (slot !== undefined) generation.beforeDone(() => slot.release());
    generation.onEnding(() => {
      void slot?.release();
      const summary = summarize(generation.log);
      meter?.settle(summary.outputTokens ?? 0);
      span.end({
        finishReason: summary.finishReason,
        inputTokens: summary.inputTokens,
        outputTokens: summary.outputTokens,
        responseModel: summary.upstreamModel,
        responseId: summary.upstreamId,
        attempts: summary.attempts,
        errorCode: summary.errorCode,
      });
      metrics?.generationEnded({
        provider: generation.provider,
        model: generation.model,
        finishReason: summary.finishReason ?? 'error',
        ttftSeconds: summary.ttftMs === undefined ? undefined : summary.ttftMs / 1000,
        inputTokens: summary.inputTokens ?? 0,
        outputTokens: summary.outputTokens ?? 0,
        attempts: summary.attempts ?? 1,
        errorCode: summary.errorCode,
      });
      // The one line of a generation is written here in full, request id included: no copy of it.
      if (scope !== undefined)
        logger?.info(
          {
            request_id: scope.requestId,
            generation_id: generation.id,
            // Left out of the line when undefined (pino drops undefined fields).
            key: scope.keyId,
            provider: generation.provider,
            model: generation.model,
            emulated: generation.emulated,
            finish_reason: summary.finishReason,
            error: summary.errorCode ?? null,
            attempts: summary.attempts ?? null,
            ttft_ms: summary.ttftMs ?? null,
            duration_ms: summary.durationMs ?? null,
            input_tokens: summary.inputTokens ?? null,
            output_tokens: summary.outputTokens ?? null,
            usage_estimated: summary.estimated ?? null,
          },
          'generation ended',
        );
    });
    const upstreamHeaders: Record<string, string> = Object.assign({}, span.upstreamHeaders);
    if (requestId !== undefined) upstreamHeaders[REQUEST_ID_HEADER] = requestId;
    return { requestId, upstreamHeaders };
  }

  /**
   * After a route handler returned: a stream response that is open now counts as an active
   * stream until it closes.
   */
  streamResponse(response: ServerResponse): void {
    const metrics = this.parts.metrics;
    if (metrics === undefined || response.writableEnded || response.destroyed) return;
    if (response.statusCode !== 200 || response.getHeader(GENERATION_ID_HEADER) === undefined) return;
    response.on('close', metrics.streamOpened());
  }

  /** Whether the gateway can take work: not shutting down, and its Redis (if any) answering. */
  async ready(shuttingDown: boolean): Promise<{ ready: boolean; reason?: string }> {
    if (shuttingDown) return { ready: false, reason: 'shutting_down' };
    if (!(await this.parts.store.ready())) return { ready: false, reason: 'redis_unreachable' };
    return { ready: true };
  }
}

/**
 * What the end of a generation's log says, read from its first and last frames only. Called as
 * the generation ends (`onEnding`), while those frames are still objects: nothing is parsed back.
 */
function summarize(log: LogReader): {
  finishReason: string | null;
  errorCode: string | undefined;
  inputTokens: number | undefined;
  outputTokens: number | undefined;
  estimated: boolean | undefined;
  ttftMs: number | undefined;
  durationMs: number | undefined;
  attempts: number | undefined;
  upstreamModel: string | undefined;
  upstreamId: string | undefined;
} {
  const summary: ReturnType<typeof summarize> = {
    finishReason: null,
    errorCode: undefined,
    inputTokens: undefined,
    outputTokens: undefined,
    estimated: undefined,
    ttftMs: undefined,
    durationMs: undefined,
    attempts: undefined,
    upstreamModel: undefined,
    upstreamId: undefined,
  };
  // The terminal frames are the last few; metadata comes right after start.
  const last = log.lastId;
  for (let id = last; id >= Math.max(1, last - 3); id--) {
    const event = log.event(id);
    if (event !== 'done' && event !== 'error') continue;
    const frame = log.frame(id);
    if (frame.event === 'done') {
      summary.finishReason = frame.data.finish_reason;
      summary.inputTokens = frame.data.usage.input_tokens;
      summary.outputTokens = frame.data.usage.output_tokens;
      summary.estimated = frame.data.usage.estimated;
      summary.ttftMs = frame.data.stats.ttft_ms ?? undefined;
      summary.durationMs = frame.data.stats.duration_ms;
      summary.attempts = frame.data.stats.attempts;
    } else if (frame.event === 'error' && summary.errorCode === undefined) {
      summary.errorCode = frame.data.code;
    }
  }
  for (let id = 1; id <= Math.min(last, 4); id++) {
    if (log.event(id) !== 'metadata') continue;
    const frame = log.frame(id);
    if (frame.event === 'metadata') {
      summary.upstreamModel = frame.data.upstream_model ?? undefined;
      summary.upstreamId = frame.data.upstream_id ?? undefined;
      break;
    }
  }
  return summary;
}
