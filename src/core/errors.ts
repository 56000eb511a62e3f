import type { StreamErrorCode } from '../protocol/frames.js';

/**
 * Every error Sluice can report, declared once. Request errors are answered with an HTTP
 * status and a JSON body before any stream starts; stream errors become `error` frames.
 */

const REQUEST_ERROR_STATUS = {
  invalid_request: 400,
  unknown_provider: 400,
  model_not_supported: 400,
  thinking_not_supported: 400,
  provider_auth: 401,
  /** A provider that runs in process cannot serve here (not configured, or its runtime is missing). */
  provider_unavailable: 400,
  unauthorized: 401,
  not_found: 404,
  method_not_allowed: 405,
  request_timeout: 408,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  host_not_allowed: 421,
  rate_limited: 429,
  unavailable: 503,
} as const;

type RequestErrorCode = keyof typeof REQUEST_ERROR_STATUS;

/** A request refused before any stream started. */
export class RequestError extends Error {
  readonly code: RequestErrorCode;
  readonly status: number;
  readonly field: string | undefined;

  constructor(code: RequestErrorCode, message: string, field?: string) {
    super(message);
    this.name = 'RequestError';
    this.code = code;
    this.status = REQUEST_ERROR_STATUS[code];
    this.field = field;
  }

  toJSON(): { error: { code: string; message: string; field?: string } } {
    const body: { code: string; message: string; field?: string } = {
      code: this.code,
      message: this.message,
    };
    if (this.field !== undefined) body.field = this.field;
    return { error: body };
  }
}

/**
 * How one upstream stream failed, in the terms of the contract's `error` frame: the one shape
 * codecs, error mappings and the run use for a failure.
 */
export interface StreamFailure {
  code: StreamErrorCode;
  message: string;
  retryable: boolean;
}

/** HTTP statuses that are worth another attempt (before the first token only). */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** Which stream error code an upstream HTTP status means, when the provider says nothing better. */
export function codeForStatus(status: number): StreamErrorCode {
  if (status === 401 || status === 403) return 'provider_auth';
  if (status === 429) return 'rate_limited';
  if (status === 529 || status === 503) return 'overloaded';
  if (status === 408 || status === 504) return 'timeout';
  if (status >= 400 && status < 500) return 'bad_request';
  return 'upstream_error';
}

/** A failure of one upstream attempt: what the stream's `error` frame will say. */
export class UpstreamError extends Error {
  readonly code: StreamErrorCode;
  readonly retryable: boolean;
  readonly status: number | undefined;
  /** How long the provider asked us to wait (Retry-After and friends), in ms. */
  readonly retryAfterMs: number | undefined;

  constructor(
    code: StreamErrorCode,
    message: string,
    options: { retryable?: boolean; status?: number; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'UpstreamError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
  }
}

const SECRET_PATTERNS: RegExp[] = [
  /\bsk-[A-Za-z0-9_*-]{8,}/g,
  /\bAIza[0-9A-Za-z_-]{20,}/g,
  /\b(?:key|api[_-]?key|token)=[^&\s"']+/gi,
  /\bBearer\s+[A-Za-z0-9._~+/-]+=*/gi,
];

/**
 * Removes anything that looks like a credential from text that leaves the process (error
 * messages taken from upstream bodies, log lines). Providers echo keys back in 401 bodies.
 */
export function redactSecrets(text: string, secrets: readonly string[] = []): string {
  let result = text;
  for (const secret of secrets) {
    if (secret.length >= 4) result = result.split(secret).join('[redacted]');
  }
  for (const pattern of SECRET_PATTERNS) result = result.replace(pattern, '[redacted]');
  return result;
}
