import { Readable } from 'node:stream';
import type { StreamFailure } from '../../core/errors.js';
import type { UpstreamResponse } from '../../upstream/transport.js';
import {
  type ChatHistoryItem,
  type LlamaChat,
  type LlamaChatResponseChunk,
  type LlamaContext,
  type LlamaModel,
  loadRuntime,
} from './runtime.js';
import { SlotQueue } from './slots.js';
import { encodeLine, type LocalLine, type LocalRequest } from './wire.js';

/**
 * One gateway's local model: loaded once, on first use; `concurrency` context sequences that
 * generate at once (llama.cpp batches them); a bounded line of requests waiting for one. Each
 * request gets a body of local wire lines (./wire.ts) that the run reads like any upstream's:
 * tokens are written as the native thread produces them, and aborting the request's signal (or
 * closing the body) stops the native generation before its next token.
 */

export interface LocalEngineOptions {
  modelPath: string;
  /** The model's name in frames and messages: its file name (a path is never shown to clients). */
  modelName: string;
  concurrency: number;
  /** Requests that may wait for a slot; past it a request is refused. */
  maxWaiting: number;
  /** CPU threads llama.cpp evaluates with. */
  threads: number;
  /** Upper bound on each sequence's context (the model's own training context may be smaller). */
  contextSize: number;
}

/** llama.cpp's default sampling (its server's and CLI's), for requests that set no temperature. */
const SAMPLING = { temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05 } as const;
/** How often a request waiting for a slot or for the model says so (well inside any idle timeout). */
const WAITING_PING_MS = 250;
/** How long loading the model may take before the requests waiting for it fail (never a hang). */
const LOAD_DEADLINE_MS = 10 * 60_000;

/** What a request reports while it waits, until its first token. */
interface Progress {
  loading(line: LocalLine): void;
  generating(): void;
}

/** A failure to report on the wire as it is (it already says what went wrong, in client terms). */
class LocalFailure extends Error {
  constructor(readonly failure: StreamFailure) {
    super(failure.message);
    this.name = 'LocalFailure';
  }
}

interface LoadedModel {
  model: LlamaModel;
  context: LlamaContext;
  chats: LlamaChat[];
}

function toHistory(messages: LocalRequest['messages']): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = messages.map((message): ChatHistoryItem => {
    if (message.role === 'assistant') return { type: 'model', response: [message.text] };
    return { type: message.role, text: message.text };
  });
  // The turn the model completes.
  history.push({ type: 'model', response: [] });
  return history;
}

/** A 503 with a JSON body, as an HTTP upstream refuses work it has no room for (`mapHttpError` reads it). */
function refusal(message: string): UpstreamResponse {
  const body = Buffer.from(JSON.stringify({ error: { message } }));
  return { status: 503, headers: {}, body: Readable.from([body]) };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class LocalEngine {
  private readonly queue: SlotQueue;
  private loading: Promise<LoadedModel> | undefined;
  private loaded: LoadedModel | undefined;
  private readonly loadListeners = new Set<(progress: number) => void>();
  /** Generations being served, to stop and await on close. */
  private readonly active = new Map<AbortController, Promise<void>>();
  private closed = false;
  /** Set when node-llama-cpp itself cannot be loaded: nothing will work until the process restarts. */
  runtimeFailure: string | undefined;
  /** Whether the model's chat template has a reasoning segment; known once the model is loaded. */
  reasoning: boolean | undefined;

  constructor(private readonly options: LocalEngineOptions) {
    this.queue = new SlotQueue(options.concurrency, options.maxWaiting);
  }

  /** Why a request arriving now must be refused before its stream starts, if it must. */
  busy(): string | undefined {
    if (this.queue.hasRoom) return undefined;
    return `the local model is busy: ${this.queue.running} generation(s) running and ${this.queue.waiting} waiting, the most it takes (SLUICE_LOCAL_CONCURRENCY, SLUICE_LOCAL_QUEUE); try again later`;
  }

  /** For health: what the engine holds and does now. */
  status(): Record<string, unknown> {
    return {
      model: this.options.modelName,
      loaded: this.loaded !== undefined,
      slots: this.options.concurrency,
      running: this.queue.running,
      waiting: this.queue.waiting,
      max_waiting: this.options.maxWaiting,
      // The runtime's own count of tokens sampled, over every sequence since the model loaded.
      tokens_generated:
        this.loaded?.chats.reduce((sum, chat) => sum + chat.sequence.tokenMeter.usedOutputTokens, 0) ?? 0,
    };
  }

  /**
   * Answers one attempt: at once, with a body the engine writes to as the request waits, the
   * model loads and tokens come. A full line is a 503, as an HTTP upstream would answer.
   */
  open(request: LocalRequest, signal: AbortSignal): UpstreamResponse {
    if (this.closed) return refusal('the local model is shutting down');
    const busy = this.busy();
    if (busy !== undefined) return refusal(busy);
    const body = new Readable({ read() {} });
    // The run listens for errors once it has the response; this keeps an abort that lands in
    // between from becoming an unhandled 'error' event.
    body.on('error', () => {});
    let ended = false;
    const write = (line: LocalLine): void => {
      if (!ended && !body.destroyed) body.push(encodeLine(line));
    };
    const end = (): void => {
      if (ended || body.destroyed) return;
      ended = true;
      body.push(null);
    };
    // Stops this request, waiting or generating: its signal, or the body closed by its reader.
    const stop = new AbortController();
    const onAbort = (): void => stop.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    // Until its first token, a request says every so often that it is still waiting (for a slot,
    // then for the model to load): waiting is not an upstream gone quiet, so the run's idle timer
    // must not end it. Both waits are bounded (the line by its length, the load by its deadline).
    let waitingLine: LocalLine = { type: 'queued', position: 0 };
    const slot = this.queue.acquire(stop.signal, (position) => {
      waitingLine = { type: 'queued', position };
      write(waitingLine);
    });
    if (slot === undefined) {
      signal.removeEventListener('abort', onAbort);
      body.destroy();
      return refusal(this.busy() ?? 'the local model is busy');
    }
    body.once('close', () => stop.abort(new Error('the reader closed the stream')));
    const ping = setInterval(() => write(waitingLine), WAITING_PING_MS);
    const progress: Progress = {
      loading: (line) => {
        waitingLine = line;
        write(line);
      },
      generating: () => clearInterval(ping),
    };

    const served = this.serve(request, slot, stop.signal, write, progress).then(
      () => end(),
      (error: unknown) => {
        if (stop.signal.aborted) {
          // An error, never a bare destroy: the run learns of an abort through the body's 'error'.
          const reason: unknown = stop.signal.reason;
          body.destroy(reason instanceof Error ? reason : new Error('the generation was stopped'));
          return;
        }
        const failure =
          error instanceof LocalFailure
            ? error.failure
            : {
                code: 'upstream_error' as const,
                message: `the local model failed: ${messageOf(error)}`,
                retryable: false,
              };
        write({ type: 'error', ...failure });
        end();
      },
    );
    const settled = served.finally(() => {
      clearInterval(ping);
      signal.removeEventListener('abort', onAbort);
      this.active.delete(stop);
    });
    this.active.set(stop, settled);
    return { status: 200, headers: {}, body };
  }

  private async serve(
    request: LocalRequest,
    slotPromise: Promise<number>,
    signal: AbortSignal,
    write: (line: LocalLine) => void,
    progress: Progress,
  ): Promise<void> {
    const slot = await slotPromise;
    try {
      // Granted in the same moment as it was cancelled: no reason to load anything.
      signal.throwIfAborted();
      progress.loading({ type: 'loading', progress: this.loaded === undefined ? 0 : 1 });
      const loaded = await this.load(signal, (fraction) =>
        progress.loading({ type: 'loading', progress: fraction }),
      );
      signal.throwIfAborted();
      progress.generating();
      const chat = loaded.chats[slot];
      if (chat === undefined) throw new Error(`no sequence for slot ${slot}`);
      await this.generate(loaded, chat, request, signal, write);
    } finally {
      // Only now is the sequence idle: an aborted generation has returned, within one token.
      this.queue.release(slot);
    }
  }

  private async generate(
    loaded: LoadedModel,
    chat: LlamaChat,
    request: LocalRequest,
    signal: AbortSignal,
    write: (line: LocalLine) => void,
  ): Promise<void> {
    const history = toHistory(request.messages);
    // The prompt exactly as the chat template renders it, counted by the model's own tokenizer.
    const prompt = chat.chatWrapper.generateContextState({ chatHistory: history }).contextText;
    const inputTokens = prompt.tokenize(loaded.model.tokenizer).length;
    const contextSize = loaded.context.contextSize;
    if (inputTokens >= contextSize) {
      throw new LocalFailure({
        code: 'bad_request',
        message: `the prompt is ${inputTokens} tokens; the local model's context holds ${contextSize}`,
        retryable: false,
      });
    }
    write({ type: 'start', model: this.options.modelName, input_tokens: inputTokens });

    const meter = chat.sequence.tokenMeter;
    const outputBefore = meter.usedOutputTokens;
    const reasoning = this.reasoning === true;
    let thinkingTokens = 0;
    const budget = request.thinkingBudget;
    const result = await chat.generateResponse(history, {
      signal,
      stopOnAbortSignal: false,
      temperature: request.temperature ?? SAMPLING.temperature,
      topK: SAMPLING.topK,
      topP: SAMPLING.topP,
      minP: SAMPLING.minP,
      // Without a limit the model may go on until its context is full, never past it.
      maxTokens: Math.min(request.maxTokens ?? Number.POSITIVE_INFINITY, contextSize - inputTokens),
      ...(reasoning && budget !== null ? { budgets: { thoughtTokens: budget } } : {}),
      onResponseChunk: (chunk: LlamaChatResponseChunk) => {
        const outputTokens = meter.usedOutputTokens - outputBefore;
        if (chunk.type === 'segment') {
          // Reasoning (and gpt-oss style commentary) is never answer text.
          thinkingTokens += chunk.tokens.length;
          write({
            type: 'thinking',
            text: chunk.text,
            output_tokens: outputTokens,
            thinking_tokens: thinkingTokens,
          });
          return;
        }
        write({ type: 'text', text: chunk.text, output_tokens: outputTokens });
      },
    });
    const stopReason = result.metadata.stopReason;
    write({
      type: 'finish',
      reason: stopReason === 'maxTokens' ? 'length' : 'stop',
      stop_reason: stopReason,
      output_tokens: meter.usedOutputTokens - outputBefore,
      thinking_tokens: reasoning ? thinkingTokens : null,
    });
  }

  /** The model, its context and one chat per sequence; loaded once, shared by every request. */
  private load(signal: AbortSignal, onProgress: (progress: number) => void): Promise<LoadedModel> {
    if (this.loaded !== undefined) return Promise.resolve(this.loaded);
    this.loadListeners.add(onProgress);
    this.loading ??= this.loadOnce().then(
      (loaded) => {
        this.loaded = loaded;
        return loaded;
      },
      (error: unknown) => {
        // A later request tries again (the failure may pass); every waiting one gets this error.
        this.loading = undefined;
        throw error;
      },
    );
    const loading = this.loading;
    return new Promise<LoadedModel>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      const deadline = setTimeout(() => {
        reject(
          new LocalFailure({
            code: 'timeout',
            message: `the local model ${this.options.modelName} did not load within ${LOAD_DEADLINE_MS / 1000} s`,
            retryable: false,
          }),
        );
      }, LOAD_DEADLINE_MS);
      loading.then(resolve, reject).finally(() => {
        clearTimeout(deadline);
        signal.removeEventListener('abort', onAbort);
        this.loadListeners.delete(onProgress);
      });
    });
  }

  private async loadOnce(): Promise<LoadedModel> {
    const { modelName, modelPath, concurrency, threads, contextSize } = this.options;
    let runtime: Awaited<ReturnType<typeof loadRuntime>>;
    try {
      runtime = await loadRuntime();
    } catch (error) {
      this.runtimeFailure = messageOf(error);
      throw new LocalFailure({ code: 'upstream_error', message: this.runtimeFailure, retryable: false });
    }
    let model: LlamaModel;
    try {
      model = await runtime.llama.loadModel({
        modelPath,
        gpuLayers: 0,
        onLoadProgress: (progress) => {
          for (const listener of this.loadListeners) listener(progress);
        },
      });
    } catch (error) {
      // node-llama-cpp's messages name the file by its path; clients see only its name.
      const reason = messageOf(error).split(modelPath).join(modelName);
      throw new LocalFailure({
        code: 'upstream_error',
        message: `the local model ${modelName} could not be loaded: ${reason}`,
        retryable: false,
      });
    }
    try {
      const context = await model.createContext({
        sequences: concurrency,
        contextSize: { max: contextSize },
        threads,
      });
      const chats = Array.from(
        { length: concurrency },
        () =>
          new runtime.module.LlamaChat({
            contextSequence: context.getSequence(),
            autoDisposeSequence: false,
          }),
      );
      this.reasoning = chats[0]?.chatWrapper.settings.segments?.thought !== undefined;
      if (this.closed) {
        await context.dispose();
        throw new Error('the gateway is shutting down');
      }
      return { model, context, chats };
    } catch (error) {
      await model.dispose().catch(() => {});
      throw new LocalFailure({
        code: 'upstream_error',
        message: `the local model ${modelName} could not start: ${messageOf(error).split(modelPath).join(modelName)}`,
        retryable: false,
      });
    }
  }

  /** Stops every generation (each within a token), then frees the model's memory. */
  async close(): Promise<void> {
    this.closed = true;
    for (const stop of this.active.keys()) stop.abort(new Error('the gateway is shutting down'));
    await Promise.allSettled(this.active.values());
    const loaded = this.loaded ?? (await this.loading?.catch(() => undefined));
    this.loaded = undefined;
    if (loaded === undefined) return;
    for (const chat of loaded.chats) chat.dispose({ disposeSequence: true });
    await loaded.context.dispose();
    await loaded.model.dispose();
  }
}
