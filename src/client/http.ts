import { isAbortError, requestErrorFrom, SluiceConnectionError } from './errors.js';
import type { ClientOptions } from './types.js';

/** Where and how to reach the gateway; built once per call from its options. */
export interface Endpoint {
  baseUrl: string;
  headers: Record<string, string>;
  fetch: typeof fetch;
}

export function endpointFrom(options: ClientOptions): Endpoint {
  const baseUrl = (options.baseUrl ?? '').replace(/\/+$/, '');
  if (baseUrl === '' && typeof globalThis.location === 'undefined') {
    throw new TypeError('baseUrl is required outside a browser (e.g. "http://127.0.0.1:8000")');
  }
  return {
    baseUrl,
    headers: { ...(options.apiKey ? { 'X-Api-Key': options.apiKey } : {}), ...options.headers },
    // Looked up at call time and called unbound-safe: browsers throw "Illegal invocation" otherwise.
    fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
  };
}

/**
 * `fetch` with the client's error mapping: a network failure becomes a
 * {@link SluiceConnectionError} (`unreachable`); an abort is rethrown as is.
 */
export async function send(endpoint: Endpoint, path: string, init: RequestInit): Promise<Response> {
  const url = endpoint.baseUrl + path;
  try {
    return await endpoint.fetch(url, { ...init, headers: { ...endpoint.headers, ...init.headers } });
  } catch (error) {
    if (isAbortError(error) || init.signal?.aborted) throw error;
    const origin = endpoint.baseUrl || 'this origin';
    throw new SluiceConnectionError('unreachable', url, `cannot reach the Sluice gateway at ${origin}`, {
      cause: error,
    });
  }
}

/** A JSON call: the parsed body on 2xx, a `SluiceRequestError` otherwise. */
export async function requestJson<T>(endpoint: Endpoint, path: string, init: RequestInit): Promise<T> {
  const response = await send(endpoint, path, init);
  if (!response.ok) throw await requestErrorFrom(response);
  return (await response.json()) as T;
}

/** Resolves after `ms`, or rejects at once with the signal's reason when it aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
