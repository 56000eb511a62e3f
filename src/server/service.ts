import type { IncomingMessage } from 'node:http';
import type { Settings } from '../config.js';
import { RequestError } from '../core/errors.js';
import type { Generation } from '../generation/generation.js';
import { runGeneration } from '../generation/run.js';
import type { GenerationStore } from '../generation/store.js';
import type { HealthBody, ProviderHealth } from '../protocol/http.js';
import { type ChatRequest, parseChatRequest } from '../protocol/request.js';
import { findProvider, PROVIDERS } from '../providers/registry.js';
import type { ProviderDefinition, ProviderSettings, ProviderSetup } from '../providers/types.js';
import type { Transport } from '../upstream/transport.js';
import { type BodyLimits, PendingBodies, readJsonBody } from './body.js';
import { resolveTargets } from './targets.js';

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

/** How a gateway sees a provider: an in-process one as it was set up there, else the registry's entry. */
export function definitionIn(
  providers: ReadonlyMap<string, ProviderRuntime>,
): (id: string) => ProviderDefinition | undefined {
  return (id) => providers.get(id)?.setup?.definition ?? findProvider(id);
}

export interface ServiceContext {
  settings: Settings;
  store: GenerationStore;
  transport: Transport;
  providers: ReadonlyMap<string, ProviderRuntime>;
  version: string;
  /** Receives one line per finished generation (no request content, no secrets). */
  log: ((line: Record<string, unknown>) => void) | undefined;
  /** Set once shutdown begins: new generations are refused. */
  isShuttingDown(): boolean;
}

/** Who asked for a generation and when. */
export interface StartOptions {
  /** A client address (or, with keys, a key): the store shares its bytes fairly between owners. */
  owner: string;
  /** `performance.now()` when the request arrived: the zero of ttft and duration. */
  receivedAt: number;
}

/**
 * What every route that starts generations shares, whatever the form of its request and
 * answer: reading a body, validating it, starting the run, and health.
 */
export interface GenerationService {
  /** Reads a request body as JSON, within the body limits, refusing it once shutdown began. */
  readBody(request: IncomingMessage): Promise<unknown>;
  /** Validates a native chat request body (CONTRACT.md section 2). */
  parse(body: unknown): ChatRequest;
  /** Checks the request against the registry and the store, then starts its run. */
  start(chat: ChatRequest, options: StartOptions): Generation;
  health(): HealthBody;
}

export function createGenerationService(context: ServiceContext): GenerationService {
  const { settings } = context;
  const bodyLimits: BodyLimits = {
    maxBytes: settings.maxBodyBytes,
    timeoutMs: settings.bodyTimeoutMs,
    pending: new PendingBodies(settings.maxPendingBodyBytes),
  };
  const definitionOf = definitionIn(context.providers);
  const refuseWhenShuttingDown = (): void => {
    if (context.isShuttingDown()) throw new RequestError('unavailable', 'the gateway is shutting down');
  };

  const logWhenEnded = (generation: Generation): void => {
    const log = context.log;
    if (log === undefined) return;
    generation.onEnd(() => {
      const result = generation.result();
      log({
        event: 'generation',
        id: generation.id,
        provider: generation.provider,
        model: generation.model,
        emulated: generation.emulated,
        served_by: result.served_by,
        finish_reason: result.finish_reason,
        error: result.error?.code ?? null,
        attempts: result.stats?.attempts ?? null,
        ttft_ms: result.stats?.ttft_ms ?? null,
        duration_ms: result.stats?.duration_ms ?? null,
        input_tokens: result.usage?.input_tokens ?? null,
        output_tokens: result.usage?.output_tokens ?? null,
      });
    });
  };

  return {
    async readBody(request) {
      refuseWhenShuttingDown();
      const body = await readJsonBody(request, bodyLimits);
      // Shutdown may have begun while the body arrived.
      refuseWhenShuttingDown();
      return body;
    },

    parse(body) {
      const parsed = parseChatRequest(body);
      if (!parsed.ok) throw new RequestError('invalid_request', parsed.issue.message, parsed.issue.field);
      return parsed.request;
    },

    start(chat, options) {
      refuseWhenShuttingDown();
      // An in-process provider that cannot serve says why before anything else is checked.
      const setup = context.providers.get(chat.provider)?.setup;
      const unavailable = setup?.unavailable();
      if (unavailable !== undefined) throw new RequestError('provider_unavailable', unavailable, 'provider');
      const targets = resolveTargets(chat, context.providers, settings);
      const busy = setup?.busy();
      if (busy !== undefined) throw new RequestError('unavailable', busy);
      const { provider, model } = targets.primary;
      const generation = context.store.start({
        owner: options.owner,
        provider: provider.id,
        model,
        emulated: targets.emulated,
        maxLogBytes: settings.maxLogBytes,
        graceMs: settings.resumeGraceMs,
        cancelOnDisconnect: chat.cancel_on_disconnect,
      });
      if (typeof generation === 'string') {
        throw new RequestError(
          'unavailable',
          generation === 'owner_bytes'
            ? 'this client holds its share of stored generations; try again when some expire'
            : 'the gateway holds as many generations as it can; try again later',
        );
      }
      logWhenEnded(generation);
      // runGeneration never rejects: whatever happens, it ends the generation with `done`.
      void runGeneration({
        ...targets.primary,
        generation,
        request: chat,
        transport: context.transport,
        maxRetries: settings.maxRetries,
        receivedAt: options.receivedAt,
        fallbacks: targets.fallbacks,
      });
      return generation;
    },

    health() {
      const providers: Record<string, ProviderHealth> = {};
      for (const { id } of PROVIDERS) {
        const runtime = context.providers.get(id);
        const provider = definitionOf(id);
        if (provider === undefined) continue;
        const setup = runtime?.setup;
        const models = [...(provider.models ?? provider.suggestedModels)];
        providers[id] = {
          configured: setup ? setup.unavailable() === undefined : (runtime?.configured ?? false),
          emulated: runtime?.emulated ?? false,
          default_model: provider.defaultModel,
          models,
          capabilities: Object.fromEntries(models.map((model) => [model, provider.capabilities(model)])),
          ...setup?.status(),
        };
      }
      return {
        status: context.isShuttingDown() ? 'shutting_down' : 'ok',
        version: context.version,
        // Which process answered: with several workers or instances, each has its own.
        pid: process.pid,
        demo: settings.demo,
        providers,
        active_streams: context.store.running().length,
        stored_generations: context.store.size,
      };
    },
  };
}
