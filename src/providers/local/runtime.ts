import { createRequire } from 'node:module';

/**
 * node-llama-cpp, loaded only when the local provider is first used: it is not a dependency of
 * the package (its full install is about 730 MB of GPU builds), so the gateway builds, starts
 * and serves every other provider without it. The types below are the part of its API (3.21.1,
 * `dist/**\/*.d.ts`) this provider uses, written out so the gateway compiles without it too.
 */

/** The version this provider is written and tested against. */
export const NODE_LLAMA_CPP_VERSION = '3.21.1';

/** A token id; node-llama-cpp brands numbers, structurally they are numbers. */
type Token = number;

type Tokenizer = (text: string, specialTokens?: boolean) => Token[];

export interface TokenMeter {
  readonly usedInputTokens: number;
  readonly usedOutputTokens: number;
}

export interface LlamaContextSequence {
  readonly tokenMeter: TokenMeter;
}

export interface LlamaContext {
  readonly contextSize: number;
  getSequence(): LlamaContextSequence;
  dispose(): Promise<void>;
}

export interface LlamaModel {
  readonly tokenizer: Tokenizer;
  createContext(options: {
    sequences: number;
    contextSize: { min?: number; max?: number };
    threads: number;
  }): Promise<LlamaContext>;
  dispose(): Promise<void>;
}

export interface Llama {
  loadModel(options: {
    modelPath: string;
    gpuLayers: number;
    onLoadProgress?(progress: number): void;
  }): Promise<LlamaModel>;
}

/** A conversation as node-llama-cpp's chat wrappers render it. */
export type ChatHistoryItem =
  | { type: 'system'; text: string }
  | { type: 'user'; text: string }
  | { type: 'model'; response: string[] };

export interface ChatWrapper {
  readonly wrapperName: string;
  readonly settings: { readonly segments?: { readonly thought?: unknown } };
  generateContextState(options: { chatHistory: ChatHistoryItem[] }): {
    contextText: { tokenize(tokenizer: Tokenizer): Token[] };
  };
}

/** One piece of a response as it streams: answer text, or a segment (reasoning) when `type` says so. */
export interface LlamaChatResponseChunk {
  type: 'segment' | undefined;
  segmentType?: 'thought' | 'comment' | undefined;
  text: string;
  tokens: Token[];
}

export interface LlamaChatResponse {
  response: string;
  metadata: { stopReason: string };
}

export interface LlamaChat {
  readonly chatWrapper: ChatWrapper;
  /** The context sequence it generates on. */
  readonly sequence: LlamaContextSequence;
  generateResponse(
    history: ChatHistoryItem[],
    options: {
      signal?: AbortSignal;
      stopOnAbortSignal?: boolean;
      maxTokens?: number;
      temperature?: number;
      topK?: number;
      topP?: number;
      minP?: number;
      budgets?: { thoughtTokens?: number };
      onResponseChunk?(chunk: LlamaChatResponseChunk): void;
    },
  ): Promise<LlamaChatResponse>;
  dispose(options?: { disposeSequence?: boolean }): void;
}

export interface NodeLlamaCpp {
  getLlama(options: {
    gpu: false;
    build: 'never';
    progressLogs: false;
    logLevel: 'error';
    logger?(level: string, message: string): void;
  }): Promise<Llama>;
  LlamaChat: new (options: {
    contextSequence: LlamaContextSequence;
    autoDisposeSequence?: boolean;
  }) => LlamaChat;
}

const PACKAGE = 'node-llama-cpp';

/** Whether node-llama-cpp can be found from here, without loading it (a path lookup only). */
export function runtimeInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve(PACKAGE);
    return true;
  } catch {
    return false;
  }
}

/** How to install the runtime, for the messages that say it is missing. */
export const RUNTIME_INSTALL_HINT = `npm install node-llama-cpp@${NODE_LLAMA_CPP_VERSION} next to sluice; in the repository, bash scripts/ensure-local-model-runtime.sh`;

export interface Runtime {
  module: NodeLlamaCpp;
  llama: Llama;
}

let loading: Promise<Runtime> | undefined;

/**
 * The module and its native binding (the prebuilt CPU build; nothing is ever downloaded or
 * compiled), once per process: every gateway in it shares the binding. A failure is kept, as
 * it will not heal while the process runs.
 */
export function loadRuntime(): Promise<Runtime> {
  loading ??= (async () => {
    let module: NodeLlamaCpp;
    try {
      // A variable, so neither TypeScript nor a bundler tries to resolve it at build time.
      const specifier: string = PACKAGE;
      module = (await import(specifier)) as NodeLlamaCpp;
    } catch (error) {
      throw new Error(`node-llama-cpp is not installed (${RUNTIME_INSTALL_HINT})`, { cause: error });
    }
    try {
      const llama = await module.getLlama({
        gpu: false,
        build: 'never',
        progressLogs: false,
        logLevel: 'error',
        logger: (_level, message) => process.stderr.write(`node-llama-cpp: ${message.trimEnd()}\n`),
      });
      return { module, llama };
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`node-llama-cpp could not load its native binding: ${reason}`, { cause: error });
    }
  })();
  return loading;
}
