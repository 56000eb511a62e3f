import { API_PATHS, EVENT_STREAM_TYPE, LAST_EVENT_ID_HEADER } from '../protocol/http.js';
import { ChatStream, DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_RECONNECT } from './chat-stream.js';
import { awaitResponse, Connection, cancelGeneration as cancel, checkStreamResponse } from './connection.js';
import { abortError } from './errors.js';
import { type Endpoint, endpointFrom, requestJson, send } from './http.js';
import type {
  ChatRequestBody,
  ClientOptions,
  GenerationResult,
  HealthResult,
  ResumeOptions,
  StartedGeneration,
  StreamOptions,
} from './types.js';

/**
 * Starts a chat stream (`POST /api/v1/chat/stream`) and resolves once the gateway accepted it.
 *
 * @throws {SluiceRequestError} the gateway refused the request (4xx/5xx, with `code`, `field`, `status`).
 * @throws {SluiceConnectionError} the gateway could not be reached (`code` `unreachable`).
 * @throws the signal's reason when `options.signal` aborts first (the generation is cancelled).
 */
export async function streamChat(request: ChatRequestBody, options: StreamOptions = {}): Promise<ChatStream> {
  const startedAt = performance.now();
  const endpoint = endpointFrom(options);
  return open(endpoint, options, startedAt, null, 0, (signal) =>
    send(endpoint, API_PATHS.stream, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: EVENT_STREAM_TYPE },
      body: JSON.stringify(request),
      signal,
    }),
  );
}

/**
 * Attaches to a running (or recently finished) generation, from the frame after
 * `options.lastEventId`. An unknown or expired id throws a `SluiceRequestError` with status 404.
 */
export async function resumeStream(generationId: string, options: ResumeOptions = {}): Promise<ChatStream> {
  const startedAt = performance.now();
  const endpoint = endpointFrom(options);
  const lastEventId = options.lastEventId ?? 0;
  return open(endpoint, options, startedAt, generationId, lastEventId, (signal) =>
    send(endpoint, API_PATHS.resume(generationId), {
      method: 'GET',
      headers: { accept: EVENT_STREAM_TYPE, [LAST_EVENT_ID_HEADER]: String(lastEventId) },
      signal,
    }),
  );
}

async function open(
  endpoint: Endpoint,
  options: StreamOptions,
  startedAt: number,
  generationId: string | null,
  lastEventId: number,
  request: (signal: AbortSignal) => Promise<Response>,
): Promise<ChatStream> {
  if (options.signal?.aborted) throw abortError(options.signal);
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const connection = new Connection(idleTimeoutMs);
  const response = await awaitResponse(request(connection.signal), connection, endpoint, options.signal);
  const headerId = await checkStreamResponse(response);
  return new ChatStream({
    endpoint,
    response,
    connection,
    generationId: headerId ?? generationId,
    lastEventId,
    startedAt,
    reconnect: { ...DEFAULT_RECONNECT, ...options.reconnect },
    idleTimeoutMs,
    signal: options.signal,
    onReconnect: options.onReconnect,
    onResume: options.onResume,
  });
}

/**
 * Starts a generation without streaming it (`POST /api/v1/generations`); read it later with
 * `resumeStream`, `getGeneration` or a plain `EventSource(stream_url)`.
 */
export function startGeneration(
  request: ChatRequestBody,
  options: ClientOptions = {},
): Promise<StartedGeneration> {
  return requestJson(endpointFrom(options), API_PATHS.generations, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(request),
    signal: options.signal,
  });
}

/** The accumulated result of a generation (`GET /api/v1/generations/{id}`), running or done. */
export function getGeneration(generationId: string, options: ClientOptions = {}): Promise<GenerationResult> {
  return requestJson(endpointFrom(options), API_PATHS.generation(generationId), {
    method: 'GET',
    signal: options.signal,
  });
}

/**
 * Cancels a generation by id (`POST .../cancel`). Resolves `true` when the gateway confirmed,
 * `false` when it had already ended, is unknown, or the gateway could not be reached.
 */
export function cancelGeneration(generationId: string, options: ClientOptions = {}): Promise<boolean> {
  return cancel(endpointFrom(options), generationId);
}

/** The gateway's health: providers configured and emulated (with default models), active streams. */
export function health(options: ClientOptions = {}): Promise<HealthResult> {
  return requestJson(endpointFrom(options), API_PATHS.health, { method: 'GET', signal: options.signal });
}
