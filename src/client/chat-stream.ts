import { API_PATHS, EVENT_STREAM_TYPE, LAST_EVENT_ID_HEADER } from '../protocol/http.js';
import { Accumulator } from './accumulator.js';
import { Connection, cancelGeneration, checkStreamResponse } from './connection.js';
import { SluiceConnectionError, SluiceProtocolError, SluiceRequestError } from './errors.js';
import { type Endpoint, send, sleep } from './http.js';
import { FrameQueue } from './queue.js';
import { readSse } from './sse.js';
import type {
  ChatResult,
  ErrorData,
  FinishReason,
  LiveStats,
  ProviderModel,
  ReconnectOptions,
  StreamFrame,
  StreamOptions,
  ToolCallState,
  Usage,
} from './types.js';

export const DEFAULT_RECONNECT: ReconnectOptions = { maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 30_000 };
export const DEFAULT_IDLE_TIMEOUT_MS = 45_000;

/** What `streamChat` and `resumeStream` hand over once the first response is in. */
export interface ChatStreamInit {
  endpoint: Endpoint;
  response: Response;
  connection: Connection;
  generationId: string | null;
  /** Frames up to this id were seen already (resume) and are not yielded again. */
  lastEventId: number;
  startedAt: number;
  reconnect: ReconnectOptions;
  idleTimeoutMs: number;
  signal: AbortSignal | undefined;
  onReconnect: StreamOptions['onReconnect'];
  onResume: StreamOptions['onResume'];
}

/**
 * A running chat stream: an async iterable of frames, each yielded exactly once, plus live
 * accumulated state. Reading starts at once, like an `EventSource`, so the live fields and
 * `result` advance whether or not anyone iterates; frames wait in a queue for the iterator,
 * bounded by the generation itself (the gateway caps a generation's log).
 *
 * When the connection drops before `done`, the stream resumes from the last frame id seen
 * (`GET /api/v1/chat/stream/{id}` with `Last-Event-ID`), with exponential backoff from the
 * server's `retry:`; the `onReconnect` and `onResume` options hear of it. Leaving a `for await`
 * loop early (`break`) aborts the stream.
 */
export class ChatStream implements AsyncIterable<StreamFrame> {
  /** The accumulated result, once the stream ends; rejects with the error that ended it. */
  readonly result: Promise<ChatResult>;
  private readonly state: Accumulator;
  private readonly queue = new FrameQueue();
  private readonly stopper = new AbortController();
  private readonly endpoint: Endpoint;
  private readonly init: ChatStreamInit;
  private connection: Connection;
  private generation: string | null;
  private lastId: number;
  private retryMs: number | undefined;
  private complete = false;
  private finished = false;
  private wasAborted = false;
  private cancelling: Promise<boolean> | undefined;
  private failure: unknown;
  private iterated = false;
  private settle: { resolve(result: ChatResult): void; reject(error: unknown): void } | undefined;
  private readonly onSignal = (): void => void this.abort();

  /** @internal Use `streamChat` or `resumeStream`. */
  constructor(init: ChatStreamInit) {
    this.init = init;
    this.endpoint = init.endpoint;
    this.connection = init.connection;
    this.generation = init.generationId;
    this.lastId = init.lastEventId;
    this.state = new Accumulator(init.startedAt);
    this.result = new Promise((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    // Whoever never awaits `result` must not get an unhandled rejection for it.
    this.result.catch(() => {});
    init.signal?.addEventListener('abort', this.onSignal, { once: true });
    this.pump(init.response).then(
      () => this.finish(undefined),
      (error: unknown) => this.finish(error),
    );
    if (init.signal?.aborted) void this.abort();
  }

  /** The answer text so far. */
  get text(): string {
    return this.state.text;
  }
  /** The reasoning text so far. */
  get thinking(): string {
    return this.state.thinking;
  }
  /** Tool calls so far: named at `tool_call_start`, completed with arguments at `tool_call`. */
  get toolCalls(): readonly ToolCallState[] {
    return this.state.toolCalls;
  }
  get finishReason(): FinishReason | null {
    return this.state.finishReason;
  }
  get usage(): Usage | null {
    return this.state.usage;
  }
  /** The last `error` frame's data. */
  get error(): ErrorData | null {
    return this.state.error;
  }
  /** Who answered: the provider asked for, or the fallback that took over. */
  get servedBy(): ProviderModel | null {
    return this.state.servedBy;
  }
  /**
   * The `done` frame's `reasoning_state` (`null` before `done` or when there is none): send it
   * back unchanged as `reasoning_state` on this turn's assistant message.
   */
  get reasoningState(): unknown {
    return this.state.reasoningState;
  }
  get generationId(): string | null {
    return this.generation;
  }
  /** The id of the last frame received: where a resume would start. */
  get lastEventId(): number {
    return this.lastId;
  }
  get stats(): LiveStats {
    return this.state.stats;
  }
  /** The caller aborted this stream. */
  get aborted(): boolean {
    return this.wasAborted;
  }

  /**
   * Stops reading at once (the iterator ends, queued frames are dropped) and cancels the
   * generation upstream. Resolves `true` when the gateway confirmed the cancel, `false` when
   * there was nothing left to cancel or the gateway could not be reached; never rejects.
   */
  abort(): Promise<boolean> {
    if (this.cancelling !== undefined) return this.cancelling;
    if (this.finished) return Promise.resolve(false);
    this.wasAborted = true;
    this.stopper.abort();
    this.connection.close();
    this.queue.clear();
    const generation = this.generation;
    this.cancelling =
      generation === null ? Promise.resolve(false) : cancelGeneration(this.endpoint, generation);
    this.finish(undefined);
    return this.cancelling;
  }

  [Symbol.asyncIterator](): AsyncIterator<StreamFrame> {
    if (this.iterated) throw new Error('a ChatStream can be iterated only once');
    this.iterated = true;
    let thrown = false;
    return {
      next: async (): Promise<IteratorResult<StreamFrame>> => {
        while (true) {
          const frame = this.queue.shift();
          if (frame !== undefined) return { value: frame, done: false };
          if (this.finished) {
            if (this.failure !== undefined && !thrown) {
              thrown = true;
              throw this.failure;
            }
            return { value: undefined, done: true };
          }
          await this.queue.waitForMore();
        }
      },
      return: async (): Promise<IteratorResult<StreamFrame>> => {
        void this.abort();
        return { value: undefined, done: true };
      },
    };
  }

  /** Reads connection after connection until the stream completes, fails or is aborted. */
  private async pump(first: Response): Promise<void> {
    const { maxAttempts } = this.init.reconnect;
    let response: Response | undefined = first;
    let failures = 0;
    while (!this.stopper.signal.aborted) {
      if (response === undefined) {
        if (this.generation === null) {
          throw this.interrupted('the connection dropped before the generation id was known');
        }
        if (failures >= maxAttempts) {
          throw this.interrupted(`the stream was lost and ${failures} attempts to resume it failed`);
        }
        failures++;
        const delayMs = this.backoff(failures);
        this.notify(this.init.onReconnect, { attempt: failures, lastEventId: this.lastId, delayMs });
        try {
          await sleep(delayMs, this.stopper.signal);
        } catch {
          return; // aborted while waiting
        }
        this.state.reconnects++;
        response = await this.reopen();
        if (response === undefined) continue;
        if (this.stopper.signal.aborted) return;
        this.notify(this.init.onResume, { attempt: failures, lastEventId: this.lastId });
      }
      const progressed = await this.read(response);
      response = undefined;
      if (this.complete) return;
      if (progressed) failures = 0;
    }
  }

  /** Follows one response body. Returns whether any new frame arrived; throws only on protocol errors. */
  private async read(response: Response): Promise<boolean> {
    const connection = this.connection;
    let progressed = false;
    // 204: the generation ended and this client already has its last frame.
    if (response.status === 204) {
      connection.settle();
      this.complete = true;
      return false;
    }
    connection.touch();
    try {
      const body = response.body;
      if (body === null) return false;
      const hooks = { onRetry: (ms: number) => (this.retryMs = ms), onActivity: () => connection.touch() };
      for await (const item of readSse(body, hooks)) {
        if (item.type === 'end') {
          this.complete = true;
          break;
        }
        const id = item.type === 'frame' ? item.frame.id : item.id;
        // A resumed connection may repeat what this client already has: each frame is yielded once.
        if (id <= this.lastId) continue;
        this.lastId = id;
        progressed = true;
        if (item.type === 'unknown') continue;
        this.deliver(item.frame);
        if (item.frame.event === 'done') {
          this.complete = true;
          break;
        }
      }
    } catch (error) {
      if (error instanceof SluiceProtocolError) throw error;
      // A network error, an idle timeout or our own abort: the loop decides whether to resume.
    } finally {
      connection.settle();
    }
    return progressed;
  }

  private deliver(frame: StreamFrame): void {
    if (frame.event === 'start') this.generation ??= frame.data.generation_id;
    this.state.apply(frame);
    this.queue.push(frame);
  }

  /** One resume attempt; `undefined` when it failed in a way worth another attempt. */
  private async reopen(): Promise<Response | undefined> {
    const connection = new Connection(this.init.idleTimeoutMs);
    this.connection = connection;
    if (this.stopper.signal.aborted) return undefined;
    connection.touch();
    try {
      const response = await send(this.endpoint, API_PATHS.resume(this.generation ?? ''), {
        method: 'GET',
        headers: { accept: EVENT_STREAM_TYPE, [LAST_EVENT_ID_HEADER]: String(this.lastId) },
        signal: connection.signal,
      });
      if (response.status !== 204) await checkStreamResponse(response);
      return response;
    } catch (error) {
      connection.settle();
      if (error instanceof SluiceRequestError && !isTransient(error.status)) throw error;
      if (error instanceof SluiceProtocolError) throw error;
      return undefined;
    }
  }

  /** Calls a caller's hook; one that throws drops the current connection and ends the stream. */
  private notify<Event>(hook: ((event: Event) => void) | undefined, event: Event): void {
    if (hook === undefined) return;
    try {
      hook(event);
    } catch (error) {
      this.connection.close();
      throw error;
    }
  }

  private backoff(attempt: number): number {
    const { baseDelayMs, maxDelayMs } = this.init.reconnect;
    const base = this.retryMs ?? baseDelayMs;
    // Never sooner than the server asked; up to a quarter later so dropped clients spread out.
    const delay = base * 2 ** (attempt - 1) * (1 + Math.random() / 4);
    return Math.min(maxDelayMs, delay);
  }

  private interrupted(message: string): SluiceConnectionError {
    return new SluiceConnectionError('interrupted', this.endpoint.baseUrl, message);
  }

  private finish(error: unknown): void {
    if (this.finished) return;
    this.finished = true;
    this.state.end();
    this.connection.settle();
    this.init.signal?.removeEventListener('abort', this.onSignal);
    if (error !== undefined && !this.wasAborted) {
      this.failure = error;
      this.settle?.reject(error);
    } else {
      this.settle?.resolve(this.snapshot());
    }
    this.queue.wake();
  }

  private snapshot(): ChatResult {
    const state = this.state;
    return {
      generationId: this.generation,
      provider: state.provider,
      model: state.model,
      text: state.text,
      thinking: state.thinking,
      toolCalls: state.toolCalls.map((call) => ({ ...call })),
      finishReason: state.finishReason,
      usage: state.usage,
      error: state.error,
      servedBy: state.servedBy,
      reasoningState: state.reasoningState,
      fallbacks: [...state.fallbacks],
      recoveries: state.recoveries,
      stats: state.stats,
      aborted: this.wasAborted,
      done: state.done,
    };
  }
}

/** Statuses a resume attempt may retry: the gateway restarting or overloaded. */
function isTransient(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}
