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
import type { CallScope, GatewayOps } from './ops.js';
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
  /** Keys, limits, request ids, traces, metrics and logs around each generation. */
  ops: GatewayOps | undefined;
  /** Set once shutdown begins: new generations are refused. */
  isShuttingDown(): boolean;
}

/** Who asked for a generation and when. */
export interface StartOptions {
  /** A client address (or, with keys, a key): the store shares its bytes fairly between owners. */
  owner: string;
  /** `performance.now()` when the request arrived: the zero of ttft and duration. */
  receivedAt: number;
  /** The request's scope (request id, trace, key): limits, metrics and logs follow it. */
  scope?: CallScope | undefined;
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
  /**
   * Checks the request against the registry, its key's limits and the store, then starts its
   * run. A model alias of the configuration names its provider and model.
   */
  start(chat: ChatRequest, options: StartOptions): Promise<Generation>;
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

    async start(requested, options) {
      refuseWhenShuttingDown();
      const alias = requested.model === undefined ? undefined : settings.modelAliases[requested.model];
      const aliased =
        alias === undefined ? requested : { ...requested, provider: alias.provider, model: alias.model };
      // The configuration's default fallbacks serve requests that name none.
      const chat =
        aliased.fallbacks.length > 0 || settings.defaultFallbacks.length === 0
          ? aliased
          : {
              ...aliased,
              fallbacks: settings.defaultFallbacks.map(({ provider, model }) => ({ provider, model })),
            };
      // An in-process provider that cannot serve says why before anything else is checked.
      const setup = context.providers.get(chat.provider)?.setup;
      const unavailable = setup?.unavailable();
      if (unavailable !== undefined) throw new RequestError('provider_unavailable', unavailable, 'provider');
      const targets = resolveTargets(chat, context.providers, settings);
      const busy = setup?.busy();
      if (busy !== undefined) throw new RequestError('unavailable', busy);
      const { provider, model } = targets.primary;
      const admitted = await context.ops?.admit(options.scope);
      // The limits may have taken a while (Redis): shutdown may have begun meanwhile.
      if (context.isShuttingDown()) admitted?.abandoned();
      refuseWhenShuttingDown();
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
        admitted?.abandoned();
        throw new RequestError(
          'unavailable',
          generation === 'owner_bytes'
            ? 'this client holds its share of stored generations; try again when some expire'
            : 'the gateway holds as many generations as it can; try again later',
        );
      }
      const extras = admitted?.started(generation, chat);
      // runGeneration never rejects: whatever happens, it ends the generation with `done`.
      // Spelled out, not `...targets.primary` first: on Node 20 an object spread and then extended
      // takes V8's slow path, about half a microsecond for each property added after the spread.
      const { primary } = targets;
      void runGeneration({
        provider: primary.provider,
        model: primary.model,
        providerSettings: primary.providerSettings,
        idleTimeoutMs: primary.idleTimeoutMs,
        retryBaseMs: primary.retryBaseMs,
        generation,
        request: chat,
        transport: context.transport,
        maxRetries: settings.maxRetries,
        receivedAt: options.receivedAt,
        fallbacks: targets.fallbacks,
        requestId: extras?.requestId,
        upstreamHeaders: extras?.upstreamHeaders,
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
        demo: settings.demo,
        auth: settings.apiKeys.length > 0,
        // Which process answered: with several workers or instances, each has its own.
        pid: process.pid,
        providers,
        active_streams: context.store.running().length,
        stored_generations: context.store.size,
      };
    },
  };
}
