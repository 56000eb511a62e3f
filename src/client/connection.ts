import { API_PATHS, EVENT_STREAM_TYPE, GENERATION_ID_HEADER } from '../protocol/http.js';
import { abortError, requestErrorFrom, SluiceProtocolError } from './errors.js';
import { type Endpoint, send } from './http.js';

/**
 * One HTTP connection carrying a stream: its own abort controller (abort, idle timeout) and
 * the checks that make a response a contract stream.
 */
export class Connection {
  readonly controller = new AbortController();
  private idleTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly idleTimeoutMs: number) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** (Re)starts the idle clock: no byte for `idleTimeoutMs` drops the connection. */
  touch(): void {
    if (this.idleTimeoutMs <= 0 || this.controller.signal.aborted) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(
      () => this.controller.abort(new DOMException('the stream went idle', 'TimeoutError')),
      this.idleTimeoutMs,
    );
  }

  close(): void {
    clearTimeout(this.idleTimer);
    this.controller.abort();
  }

  /** Stops the idle clock without closing (the stream completed). */
  settle(): void {
    clearTimeout(this.idleTimer);
  }
}

/** Throws unless the response is a contract SSE stream; returns its generation id header. */
export async function checkStreamResponse(response: Response): Promise<string | null> {
  if (!response.ok) throw await requestErrorFrom(response);
  const type = response.headers.get('content-type') ?? '';
  if (!type.toLowerCase().startsWith(EVENT_STREAM_TYPE) || response.body === null) {
    await response.body?.cancel().catch(() => {});
    throw new SluiceProtocolError(`expected an event stream, got "${type || 'no content type'}"`);
  }
  return response.headers.get(GENERATION_ID_HEADER);
}

/**
 * `POST .../cancel`. Best effort: resolves `true` when the gateway confirmed, `false` when the
 * generation had already ended (409), is unknown (404) or the gateway could not be reached.
 */
export async function cancelGeneration(endpoint: Endpoint, generationId: string): Promise<boolean> {
  try {
    const response = await send(endpoint, API_PATHS.cancel(generationId), {
      method: 'POST',
      signal: AbortSignal.timeout(5000),
    });
    await response.body?.cancel().catch(() => {});
    return response.ok;
  } catch {
    return false;
  }
}

/** How long an abort before the headers waits for them, to learn which generation to cancel. */
const HEADERS_AFTER_ABORT_MS = 2000;

/**
 * Awaits a response while watching the caller's signal. When the caller aborts before the
 * headers arrive, the generation may already run on the gateway: wait briefly for the headers
 * to learn its id, cancel it, then reject with the abort reason.
 */
export async function awaitResponse(
  pending: Promise<Response>,
  connection: Connection,
  endpoint: Endpoint,
  signal: AbortSignal | undefined,
): Promise<Response> {
  if (signal === undefined) return pending;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<'aborted'>((resolve) => {
    onAbort = () => resolve('aborted');
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const first = await Promise.race([pending, aborted]);
    if (first !== 'aborted') return first;
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = await Promise.race([
    pending.catch(() => undefined),
    new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), HEADERS_AFTER_ABORT_MS);
    }),
  ]);
  clearTimeout(timer);
  const generationId = late?.ok ? late.headers.get(GENERATION_ID_HEADER) : null;
  connection.close();
  if (generationId) await cancelGeneration(endpoint, generationId);
  throw abortError(signal);
}
