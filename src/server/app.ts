import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { DEFAULT_IDLE_TIMEOUT_MS, type Settings } from '../config.js';
import { RequestError } from '../core/errors.js';
import { sseEncoder } from '../faces/sse.js';
import type { Followable, Generation } from '../generation/generation.js';
import { runGeneration } from '../generation/run.js';
import type { GenerationStore } from '../generation/store.js';
import { parseChatRequest } from '../protocol/request.js';
import { findProvider, PROVIDERS, resolveRequest } from '../providers/registry.js';
import type { ProviderDefinition, ProviderSettings, ProviderSetup } from '../providers/types.js';
import type { Transport } from '../upstream/transport.js';
import { readJsonBody } from './body.js';
import type { StaticFiles } from './static.js';
import { followLog } from './stream-writer.js';

/** How each provider is reached in this process. */
export interface ProviderRuntime {
  settings: ProviderSettings;
  /** A key is configured (or none is needed). */
  configured: boolean;
  /** Served by the built-in emulator (demo mode). */
  emulated: boolean;
  /** Set for a provider that runs in this process (the local model): how this gateway set it up. */
  setup?: ProviderSetup;
}

export interface AppContext {
  settings: Settings;
  store: GenerationStore;
  transport: Transport;
  providers: ReadonlyMap<string, ProviderRuntime>;
  staticFiles: StaticFiles | undefined;
  version: string;
  /** Receives one line per finished generation (no request content, no secrets). */
  log: ((line: Record<string, unknown>) => void) | undefined;
  /** Set once shutdown begins: new streams are refused. */
  isShuttingDown(): boolean;
}

const STREAM_PATH = '/api/v1/chat/stream';
const GENERATIONS_PATH = '/api/v1/generations';

function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string>,
  closeConnection = false,
): void {
  const text = JSON.stringify(body);
  const allHeaders: Record<string, string | number> = {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  };
  if (closeConnection) allHeaders.Connection = 'close';
  response.writeHead(status, allHeaders);
  response.end(text);
}

function sendError(response: ServerResponse, error: RequestError, headers: Record<string, string>): void {
  // A refused body may still be arriving: close the connection rather than read it.
  const close = error.code === 'payload_too_large';
  sendJson(response, error.status, error.toJSON(), headers, close);
}

function parseAfterId(request: IncomingMessage, url: URL): number {
  const raw =
    (request.headers['last-event-id'] as string | undefined) ?? url.searchParams.get('last_event_id') ?? '';
  if (raw.trim() === '') return 0;
  if (!/^\d{1,15}$/.test(raw.trim())) {
    throw new RequestError(
      'invalid_request',
      'Last-Event-ID must be a non-negative integer',
      'last_event_id',
    );
  }
  return Number(raw.trim());
}

/** The HTTP API of CONTRACT.md section 2 to 4, on node:http. */
export function createRequestHandler(
  context: AppContext,
): (request: IncomingMessage, response: ServerResponse) => void {
  const corsHeaders: Record<string, string> = {
    'Access-Control-Allow-Origin': context.settings.corsOrigin,
    'Access-Control-Expose-Headers': 'X-Generation-Id',
  };
  if (context.settings.corsOrigin !== '*') corsHeaders.Vary = 'Origin';

  const notFound = (what: string): RequestError => new RequestError('not_found', what);
  /** How this gateway sees a provider: an in-process one as it was set up here. */
  const definitionOf = (id: string): ProviderDefinition | undefined =>
    context.providers.get(id)?.setup?.definition ?? findProvider(id);

  const startGeneration = async (request: IncomingMessage, receivedAt: number): Promise<Generation> => {
    if (context.isShuttingDown()) throw new RequestError('unavailable', 'the gateway is shutting down');
    const body = await readJsonBody(request, context.settings.maxBodyBytes);
    const parsed = parseChatRequest(body);
    if (!parsed.ok) throw new RequestError('invalid_request', parsed.issue.message, parsed.issue.field);
    const chat = parsed.request;
    // An in-process provider that cannot serve says why before anything else is checked.
    const unavailable = context.providers.get(chat.provider)?.setup?.unavailable();
    if (unavailable !== undefined) throw new RequestError('provider_unavailable', unavailable, 'provider');
    const { provider, model } = resolveRequest(chat, definitionOf);
    const runtime = context.providers.get(provider.id);
    const busy = runtime?.setup?.busy();
    if (busy !== undefined) throw new RequestError('unavailable', busy);
    if (runtime === undefined || !runtime.configured) {
      throw new RequestError(
        'provider_auth',
        `no API key is configured for ${provider.displayName} (set ${provider.apiKeyEnv.join(' or ')})`,
        'provider',
      );
    }
    const generation = context.store.start({
      owner: request.socket.remoteAddress ?? '',
      provider: provider.id,
      model,
      emulated: runtime.emulated,
      maxLogBytes: context.settings.maxLogBytes,
      graceMs: context.settings.resumeGraceMs,
    });
    if (typeof generation === 'string') {
      throw new RequestError(
        'unavailable',
        generation === 'owner_bytes'
          ? 'this client holds its share of stored generations; try again when some expire'
          : 'the gateway holds as many generations as it can; try again later',
      );
    }
    const log = context.log;
    if (log !== undefined) {
      generation.onEnd(() => {
        const result = generation.result();
        log({
          event: 'generation',
          id: generation.id,
          provider: generation.provider,
          model: generation.model,
          emulated: generation.emulated,
          finish_reason: result.finish_reason,
          error: result.error?.code ?? null,
          attempts: result.stats?.attempts ?? null,
          ttft_ms: result.stats?.ttft_ms ?? null,
          duration_ms: result.stats?.duration_ms ?? null,
          input_tokens: result.usage?.input_tokens ?? null,
          output_tokens: result.usage?.output_tokens ?? null,
        });
      });
    }
    const settings = context.settings;
    runGeneration({
      generation,
      provider,
      model,
      request: chat,
      providerSettings: runtime.settings,
      transport: context.transport,
      idleTimeoutMs: settings.idleTimeoutMs ?? provider.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      maxRetries: settings.maxRetries,
      retryBaseMs: settings.retryBaseMs ?? provider.retryBaseMs ?? 1000,
      receivedAt,
    }).catch(() => {
      // runGeneration ends its log itself; this only guards against a bug leaving it open.
      generation.cancel('cancelled');
    });
    return generation;
  };

  const sse = sseEncoder(context.settings.clientRetryMs);
  const stream = (generation: Followable, response: ServerResponse, afterId: number): void => {
    followLog(generation, response, sse, {
      afterId,
      keepAliveMs: context.settings.keepAliveMs,
      bufferFrames: context.settings.bufferFrames,
      stallTimeoutMs: context.settings.stallTimeoutMs,
      headers: corsHeaders,
    });
  };

  const health = () => {
    const providers: Record<string, unknown> = {};
    for (const { id } of PROVIDERS) {
      const runtime = context.providers.get(id);
      const provider = definitionOf(id);
      if (provider === undefined) continue;
      const setup = runtime?.setup;
      providers[id] = {
        configured: setup ? setup.unavailable() === undefined : (runtime?.configured ?? false),
        emulated: runtime?.emulated ?? false,
        default_model: provider.defaultModel,
        models: provider.models ?? provider.suggestedModels,
        capabilities: Object.fromEntries(
          (provider.models ?? provider.suggestedModels).map((model) => [model, provider.capabilities(model)]),
        ),
        ...setup?.status(),
      };
    }
    return {
      status: context.isShuttingDown() ? 'shutting_down' : 'ok',
      version: context.version,
      demo: context.settings.demo,
      providers,
      active_streams: context.store.running().length,
      stored_generations: context.store.size,
    };
  };

  const route = async (
    request: IncomingMessage,
    response: ServerResponse,
    receivedAt: number,
  ): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://gateway');
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
    const method = request.method ?? 'GET';

    if (method === 'OPTIONS') {
      response.writeHead(204, {
        ...corsHeaders,
        'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
        'Access-Control-Allow-Headers': 'Content-Type, Last-Event-ID, Authorization',
        'Access-Control-Max-Age': '600',
      });
      response.end();
      return;
    }

    const allow = (...methods: string[]): void => {
      if (!methods.includes(method)) {
        throw new RequestError(
          'method_not_allowed',
          `${method} is not allowed here; use ${methods.join(' or ')}`,
        );
      }
    };

    if (path === `${STREAM_PATH}/health`) {
      allow('GET');
      sendJson(response, 200, health(), corsHeaders);
      return;
    }
    if (path === STREAM_PATH) {
      allow('POST');
      const generation = await startGeneration(request, receivedAt);
      stream(generation, response, 0);
      return;
    }
    if (path === GENERATIONS_PATH) {
      allow('POST');
      const generation = await startGeneration(request, receivedAt);
      // No reader yet: the grace period gives a client (EventSource) time to attach.
      generation.startGrace();
      sendJson(
        response,
        201,
        { generation_id: generation.id, stream_url: `${STREAM_PATH}/${generation.id}` },
        {
          ...corsHeaders,
          Location: `${STREAM_PATH}/${generation.id}`,
        },
      );
      return;
    }
    const cancelMatch = /^\/api\/v1\/chat\/stream\/([A-Za-z0-9_-]{1,64})\/cancel$/.exec(path);
    if (cancelMatch) {
      allow('POST');
      const outcome = await context.store.cancel(cancelMatch[1] ?? '');
      if (outcome === 'unknown') throw notFound('unknown or expired generation id');
      if (outcome === 'cancelled') sendJson(response, 200, { cancelled: true }, corsHeaders);
      else {
        const reason =
          outcome === 'stopping' ? 'the generation is already stopping' : 'the generation already ended';
        sendJson(response, 409, { cancelled: false, reason }, corsHeaders);
      }
      return;
    }
    const resumeMatch = /^\/api\/v1\/chat\/stream\/([A-Za-z0-9_-]{1,64})$/.exec(path);
    if (resumeMatch) {
      allow('GET');
      const id = resumeMatch[1] ?? '';
      const afterId = parseAfterId(request, url);
      const generation = await context.store.follow(id);
      if (generation === undefined) throw notFound('unknown or expired generation id');
      if (generation.log.ended && afterId >= generation.log.lastId) {
        // Nothing left to send: 204 tells a browser EventSource to stop reconnecting.
        response.writeHead(204, { ...corsHeaders, 'X-Generation-Id': generation.id });
        response.end();
        return;
      }
      stream(generation, response, afterId);
      return;
    }
    const resultMatch = /^\/api\/v1\/generations\/([A-Za-z0-9_-]{1,64})$/.exec(path);
    if (resultMatch) {
      allow('GET');
      const id = resultMatch[1] ?? '';
      const result = await context.store.result(id);
      if (result === undefined) throw notFound('unknown or expired generation id');
      sendJson(response, 200, result, corsHeaders);
      return;
    }
    if (method === 'GET' && context.staticFiles?.serve(path, response)) return;
    throw notFound(`no route for ${method} ${path}`);
  };

  return (request, response) => {
    const receivedAt = performance.now();
    route(request, response, receivedAt).catch((error: unknown) => {
      if (response.headersSent) {
        response.destroy();
        return;
      }
      const requestError =
        error instanceof RequestError
          ? error
          : new RequestError('invalid_request', 'the request could not be read');
      sendError(response, requestError, corsHeaders);
    });
  };
}
