import type { Dispatcher } from 'undici';
import type { AbortWatch } from '../core/abort.js';
import { boundedCache } from '../core/bounded-cache.js';

/**
 * The body of an upstream response as the run reads it: `data`, `end` and `error` events, and
 * `destroy`. A Node Readable has this shape (the in-process local model answers with one); the
 * transport's own bodies are the lighter `DispatchedBody`.
 */
export interface UpstreamBody {
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  destroy(error?: Error): unknown;
}

/** What the dispatcher answered: status, headers (lower-case names) and the body to follow. */
export interface DispatchedResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: UpstreamBody;
}

/**
 * A response body fed straight from undici's dispatch handler: each network read is handed to
 * the one `data` listener as it arrives, with no stream machinery (buffering, `readable`
 * events, ticks) in between. Reads that arrive before the listener is attached (the headers
 * and the first bytes in one packet) wait for it; `end` and `error` come after every read.
 */
class DispatchedBody implements UpstreamBody {
  private onData: ((chunk: Buffer) => void) | undefined;
  private onEnd: (() => void) | undefined;
  private onError: ((error: Error) => void) | undefined;
  /** Reads waiting for a `data` listener; undefined once one is attached. */
  private pending: Buffer[] | undefined = [];
  private ended = false;
  private failure: Error | undefined;
  /** `end` or `error` was delivered, or the body was destroyed: nothing more is. */
  private closed = false;

  constructor(private readonly controller: Dispatcher.DispatchController) {}

  on(event: 'data', listener: (chunk: Buffer) => void): this;
  on(event: 'end', listener: () => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  on(event: 'data' | 'end' | 'error', listener: ((value: never) => void) | (() => void)): this {
    if (event === 'data') {
      this.onData = listener as (chunk: Buffer) => void;
      const pending = this.pending;
      this.pending = undefined;
      for (const chunk of pending ?? []) {
        if (this.closed) break;
        this.onData(chunk);
      }
    } else if (event === 'end') {
      this.onEnd = listener as () => void;
    } else {
      this.onError = listener as (error: Error) => void;
    }
    this.settle();
    return this;
  }

  push(chunk: Buffer): void {
    if (this.closed) return;
    if (this.pending !== undefined) this.pending.push(chunk);
    else this.onData?.(chunk);
  }

  finish(): void {
    this.ended = true;
    this.settle();
  }

  /**
   * Delivered a microtask later, as a stream's error is: an abort the reader made itself (a
   * token budget reached, a cancel) fails the request while the reader is still deciding how
   * its attempt ended, and its own decision must come first.
   */
  fail(error: Error): void {
    this.failure ??= error;
    queueMicrotask(() => this.settle());
  }

  destroy(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = undefined;
    if (!this.ended && this.failure === undefined && !this.controller.aborted) {
      this.controller.abort(error ?? new Error('the upstream response was abandoned'));
    }
  }

  /** Delivers `error` or `end` once every read went out and its listener is there. */
  private settle(): void {
    if (this.closed || this.pending !== undefined) return;
    if (this.failure !== undefined) {
      if (this.onError === undefined) return;
      this.closed = true;
      this.onError(this.failure);
    } else if (this.ended && this.onEnd !== undefined) {
      this.closed = true;
      this.onEnd();
    }
  }
}

/** What a request needs of its URL: parsed once per distinct URL string, not once per request. */
export interface UrlParts {
  origin: string;
  /** Path and query, as sent on the request line. */
  path: string;
  https: boolean;
}

/** Upstream URLs are a handful per provider and model; the bound keeps odd ones from piling up. */
export const urlParts: (url: string) => UrlParts = boundedCache(256, (url) => {
  const parsed = new URL(url);
  return {
    origin: parsed.origin,
    path: `${parsed.pathname}${parsed.search}`,
    https: parsed.protocol === 'https:',
  };
});

function abortReason(signal: AbortWatch): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('aborted');
}

/**
 * POSTs `body` to `url` through `dispatcher`; resolves once response headers arrive (rejects
 * with undici's error, or the signal's reason when it aborts first). Aborting the signal later
 * aborts the request: the HTTP/1.1 socket is closed, or the HTTP/2 stream reset.
 */
export function dispatchRequest(
  dispatcher: Dispatcher,
  request: { url: string; headers: Record<string, string>; body: string },
  signal: AbortWatch,
  options: { idempotent?: boolean } = {},
): Promise<DispatchedResponse> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    let controller: Dispatcher.DispatchController | undefined;
    let body: DispatchedBody | undefined;
    const onAbort = (): void => {
      controller?.abort(abortReason(signal));
      // Not yet connected: undici starts the request later and aborts it then (onRequestStart).
      if (body === undefined) reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const stopListening = (): void => signal.removeEventListener('abort', onAbort);
    const url = urlParts(request.url);
    dispatcher.dispatch(
      {
        origin: url.origin,
        path: url.path,
        method: 'POST',
        headers: request.headers,
        body: request.body,
        ...(options.idempotent === undefined ? {} : { idempotent: options.idempotent }),
      },
      {
        onRequestStart(started) {
          controller = started;
          if (signal.aborted) started.abort(abortReason(signal));
        },
        onResponseStart(started, statusCode, headers) {
          body = new DispatchedBody(started);
          resolve({ status: statusCode, headers, body });
        },
        onResponseData(_controller, chunk) {
          body?.push(chunk);
        },
        onResponseEnd() {
          stopListening();
          body?.finish();
        },
        onResponseError(_controller, error) {
          stopListening();
          if (body === undefined) reject(error);
          else body.fail(error);
        },
      },
    );
  });
}
