/**
 * The client's errors. A request the gateway refuses, a gateway that cannot be reached and a
 * stream that does not follow the contract each have their own class; an `error` frame is a
 * frame, never one of these.
 */

/** Base class of every error this client throws; `code` is stable and machine-readable. */
export class SluiceError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SluiceError';
    this.code = code;
  }
}

/**
 * The gateway answered with an HTTP error before any stream started (CONTRACT.md section 2):
 * `code` is the contract's (`invalid_request`, `unknown_provider`, `not_found`, ...), `field`
 * names the offending request field when the gateway said which.
 */
export class SluiceRequestError extends SluiceError {
  readonly status: number;
  readonly field: string | undefined;

  constructor(status: number, code: string, message: string, field?: string) {
    super(code, message);
    this.name = 'SluiceRequestError';
    this.status = status;
    this.field = field;
  }
}

/**
 * The gateway could not be reached (`unreachable`), or a stream was lost and could not be
 * resumed within the reconnect budget (`interrupted`).
 */
export class SluiceConnectionError extends SluiceError {
  readonly url: string;

  constructor(
    code: 'unreachable' | 'interrupted',
    url: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = 'SluiceConnectionError';
    this.url = url;
  }
}

/** The gateway answered something that is not the contract's stream (wrong content type, bad JSON). */
export class SluiceProtocolError extends SluiceError {
  constructor(message: string) {
    super('protocol_error', message);
    this.name = 'SluiceProtocolError';
  }
}

/** The error an aborted call rejects with, as `fetch` does: the signal's reason or an `AbortError`. */
export function abortError(signal: AbortSignal | undefined): unknown {
  return signal?.reason ?? new DOMException('The operation was aborted.', 'AbortError');
}

/** Whether an error is an abort (ours or the platform's). */
export function isAbortError(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError');
}

/** Turns a non-2xx response into a {@link SluiceRequestError}, reading the contract's JSON body when there is one. */
export async function requestErrorFrom(response: Response): Promise<SluiceRequestError> {
  let text = '';
  try {
    text = await response.text();
  } catch {
    // The body is only a better message; the status alone is still a typed error.
  }
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; field?: unknown } };
    const error = body.error;
    if (error !== undefined && typeof error.code === 'string' && typeof error.message === 'string') {
      const field = typeof error.field === 'string' ? error.field : undefined;
      return new SluiceRequestError(response.status, error.code, error.message, field);
    }
  } catch {
    // Not JSON: a proxy's error page, say.
  }
  const reason = response.statusText ? ` ${response.statusText}` : '';
  return new SluiceRequestError(
    response.status,
    `http_${response.status}`,
    `HTTP ${response.status}${reason}`,
  );
}
