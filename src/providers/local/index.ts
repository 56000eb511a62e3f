import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename } from 'node:path';
import { integer } from '../../config.js';
import { UpstreamError } from '../../core/errors.js';
import type { ModelCapabilities, ProviderDefinition, ProviderSetup } from '../types.js';
import { createLocalCodec } from './codec.js';
import { LocalEngine } from './engine.js';
import { readGgufMetadata } from './gguf.js';
import { buildLocalRequest, validateLocalRequest } from './request.js';
import { NODE_LLAMA_CPP_VERSION, RUNTIME_INSTALL_HINT, runtimeInstalled } from './runtime.js';
import { defaultTinyModelPath, TINY_MODEL_FILE_NAME, writeTinyModel } from './tiny-model.js';
import type { LocalRequest } from './wire.js';

/**
 * `provider: "local"`: a GGUF model run inside the gateway by llama.cpp (node-llama-cpp, loaded on
 * first use). `SLUICE_LOCAL_MODEL` is the model file; the model's name is the file's name. In
 * demo mode without it, the tiny random model (./tiny-model.ts) is written to the cache folder
 * and served.
 */

/** Chat templates that have a reasoning turn (`<think>`, gpt-oss channels, Mistral's [THINK], ...). */
const REASONING_TEMPLATE = /<think>|reasoning_content|enable_thinking|<\|channel\|>|\[THINK\]|<seed:think>/;

type Environment = Readonly<Record<string, string | undefined>>;

interface LocalSettings {
  concurrency: number;
  maxWaiting: number;
  threads: number;
  contextSize: number;
}

/** The local provider's settings; a malformed one stops the gateway from starting, saying which. */
function readSettings(env: Environment): LocalSettings {
  return {
    concurrency: integer(env, 'SLUICE_LOCAL_CONCURRENCY', 1, 1),
    maxWaiting: integer(env, 'SLUICE_LOCAL_QUEUE', 16),
    // One core stays for the event loop: llama.cpp's threads spin while they wait for each other,
    // and a starved event loop would delay every stream the gateway serves.
    threads: integer(env, 'SLUICE_LOCAL_THREADS', Math.max(1, availableParallelism() - 1), 1),
    contextSize: integer(env, 'SLUICE_LOCAL_CONTEXT', 4096, 64),
  };
}

function capabilitiesOf(reasoning: boolean): ModelCapabilities {
  // Tools are not offered: node-llama-cpp's function calling is not mapped onto tool frames.
  // The output limit is the context size, which the request's own length eats into: not guessed here.
  return { reasoning, tools: false, reportsUsage: true, maxOutputTokens: undefined };
}

function parseLocalRequest(body: string): LocalRequest {
  return JSON.parse(body) as LocalRequest;
}

/** A setup that refuses every request with `reason` (a 4xx before the stream; health says why). */
function unavailableSetup(reason: string, modelName: string | undefined): ProviderSetup {
  const definition: ProviderDefinition = {
    ...local,
    defaultModel: modelName ?? '',
    models: modelName === undefined ? [] : [modelName],
    suggestedModels: [],
  };
  return {
    definition,
    unavailable: () => reason,
    busy: () => undefined,
    status: () => ({ unavailable: reason }),
    close: async () => {},
  };
}

async function configureLocal(env: Environment, options: { demo: boolean }): Promise<ProviderSetup> {
  const settings = readSettings(env);
  const configuredPath = env.SLUICE_LOCAL_MODEL || undefined;
  const modelPath = configuredPath ?? (options.demo ? defaultTinyModelPath(env) : undefined);
  if (modelPath === undefined) {
    return unavailableSetup(
      'the local provider is not configured: set SLUICE_LOCAL_MODEL to the path of a .gguf model file',
      undefined,
    );
  }
  const modelName = basename(modelPath);
  const missingRuntime = runtimeInstalled()
    ? undefined
    : unavailableSetup(
        `the local provider needs node-llama-cpp ${NODE_LLAMA_CPP_VERSION}, which is not installed (${RUNTIME_INSTALL_HINT})`,
        modelName,
      );
  if (configuredPath === undefined) {
    // Demo mode: the tiny model, written once into the cache folder (only worth it with a runtime).
    if (missingRuntime !== undefined) return missingRuntime;
    if (!existsSync(modelPath)) {
      try {
        await writeTinyModel(modelPath);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        return unavailableSetup(`the demo's tiny model could not be written: ${reason}`, modelName);
      }
    }
  }
  let template: unknown;
  try {
    template = (await readGgufMetadata(modelPath)).get('tokenizer.chat_template');
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'no such file'
        : // Clients see the file's name, never where it lives.
          String((error as Error).message)
            .split(modelPath)
            .join(modelName);
    return unavailableSetup(
      `the local model ${modelName} (SLUICE_LOCAL_MODEL) cannot be read: ${reason}`,
      modelName,
    );
  }
  if (missingRuntime !== undefined) return missingRuntime;
  // Until the model is loaded, the template's text says whether it reasons; once it is, the chat
  // wrapper node-llama-cpp chose for it does.
  const templateReasons = typeof template === 'string' && REASONING_TEMPLATE.test(template);
  const engine = new LocalEngine({ modelPath, modelName, ...settings });
  const definition: ProviderDefinition = {
    ...local,
    defaultModel: modelName,
    models: [modelName],
    suggestedModels: [modelName],
    capabilities: () => capabilitiesOf(engine.reasoning ?? templateReasons),
    openUpstream: async (upstreamRequest, signal) =>
      engine.open(parseLocalRequest(upstreamRequest.body), signal),
  };
  return {
    definition,
    unavailable: () => engine.runtimeFailure,
    busy: () => engine.busy(),
    status: () => ({ runtime: engine.status() }),
    close: () => engine.close(),
  };
}

export const local: ProviderDefinition = {
  id: 'local',
  displayName: 'Local model',
  // Each gateway's setup names its model (the file's name); this is the demo's.
  defaultModel: TINY_MODEL_FILE_NAME,
  suggestedModels: [],
  framing: 'ndjson',
  // A dropped answer is continued by sending the partial answer with an instruction to go on.
  continuation: 'instruction',
  apiKeyEnv: [],
  baseUrlEnv: 'SLUICE_LOCAL_MODEL',
  defaultBaseUrl: '',
  // A CPU model can take long to read a long prompt before its first token.
  idleTimeoutMs: 120_000,
  capabilities: () => capabilitiesOf(false),
  validate: validateLocalRequest,
  buildRequest: (request, model) => buildLocalRequest(request, model),
  createCodec: createLocalCodec,
  mapHttpError(status, bodyText) {
    let message = `the local model answered ${status}`;
    try {
      const parsed = JSON.parse(bodyText) as { error?: { message?: unknown } };
      if (typeof parsed.error?.message === 'string') message = parsed.error.message;
    } catch {
      // Not JSON: the status says enough.
    }
    // The engine answers 503 only when every slot and place in line is taken: worth another try.
    if (status === 503) return new UpstreamError('overloaded', message, { retryable: true, status });
    return new UpstreamError('internal', message, { retryable: false, status });
  },
  configure: configureLocal,
  openUpstream: async () => {
    throw new UpstreamError('upstream_error', 'the local provider is not configured in this gateway', {
      retryable: false,
    });
  },
};
