import { codeForStatus, isRetryableStatus, redactSecrets, UpstreamError } from '../../core/errors.js';
import { isNonArrayObject, type JsonObject } from '../../core/json.js';
import type { StreamErrorCode } from '../../protocol/frames.js';
import { retryAfterFromHeaders } from '../../upstream/retry.js';
import type { ResponseHeaders } from '../../upstream/transport.js';

/**
 * Google errors are `google.rpc.Status` objects: `{"error": {"code": 429, "message": "...",
 * "status": "RESOURCE_EXHAUSTED", "details": [...]}}` (docs/wire.md §3.7), pretty-printed in HTTP
 * bodies and sometimes written raw into a running SSE stream.
 */
interface GoogleRpcStatus {
  code?: number;
  message?: string;
  status?: string;
  details?: unknown[];
}

/** gRPC canonical codes as Google maps them onto HTTP (google/rpc/code.proto). */
export const GOOGLE_STATUS_HTTP: Readonly<Record<string, number>> = {
  INVALID_ARGUMENT: 400,
  FAILED_PRECONDITION: 400,
  OUT_OF_RANGE: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  ABORTED: 409,
  ALREADY_EXISTS: 409,
  RESOURCE_EXHAUSTED: 429,
  CANCELLED: 499,
  INTERNAL: 500,
  UNKNOWN: 500,
  DATA_LOSS: 500,
  UNIMPLEMENTED: 501,
  UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
};

/** The Status inside a parsed body: `{error}`, or `[{error}]` from the non-SSE (JSON array) form. */
export function readGoogleError(body: unknown): GoogleRpcStatus | undefined {
  const holder = Array.isArray(body) ? body[0] : body;
  if (!isNonArrayObject(holder) || !isNonArrayObject(holder.error)) return undefined;
  const error = holder.error;
  return {
    ...(typeof error.code === 'number' ? { code: error.code } : {}),
    ...(typeof error.message === 'string' ? { message: error.message } : {}),
    ...(typeof error.status === 'string' ? { status: error.status } : {}),
    ...(Array.isArray(error.details) ? { details: error.details } : {}),
  };
}

function detailOfType(error: GoogleRpcStatus, type: string): JsonObject | undefined {
  return error.details?.find(
    (detail): detail is JsonObject =>
      isNonArrayObject(detail) && typeof detail['@type'] === 'string' && detail['@type'].endsWith(type),
  );
}

/** `RetryInfo.retryDelay` is a protobuf Duration in JSON: decimal seconds with an `s` ("34.4s"). */
function retryDelayMs(error: GoogleRpcStatus | undefined): number | undefined {
  const delay = error === undefined ? undefined : detailOfType(error, 'google.rpc.RetryInfo')?.retryDelay;
  if (typeof delay !== 'string') return undefined;
  const match = /^(\d+(?:\.\d+)?)s$/.exec(delay.trim());
  return match ? Math.round(Number(match[1]) * 1000) : undefined;
}

/**
 * A wrong key is a 400 INVALID_ARGUMENT with `ErrorInfo.reason: API_KEY_INVALID` ("API key not
 * valid. Please pass a valid API key."), not a 401: treat it as the auth failure it is.
 */
function isKeyProblem(error: GoogleRpcStatus): boolean {
  const reason = detailOfType(error, 'google.rpc.ErrorInfo')?.reason;
  return reason === 'API_KEY_INVALID' || /API key not valid|API key expired/i.test(error.message ?? '');
}

/** A Status onto a stream error: the HTTP code it carries (or its canonical name) decides. */
export function classifyGoogleError(
  error: GoogleRpcStatus,
  httpStatus?: number,
): { code: StreamErrorCode; retryable: boolean } {
  if (isKeyProblem(error)) return { code: 'provider_auth', retryable: false };
  const status =
    httpStatus ??
    (typeof error.code === 'number' && error.code >= 400 ? error.code : undefined) ??
    (error.status !== undefined ? GOOGLE_STATUS_HTTP[error.status] : undefined);
  // A Status with neither a code nor a known name is server trouble of an unknown kind.
  if (status === undefined) return { code: 'upstream_error', retryable: true };
  const code = codeForStatus(status);
  return { code, retryable: code !== 'provider_auth' && isRetryableStatus(status) };
}

/** Non-2xx answers from `streamGenerateContent`. */
export function mapGeminiHttpError(
  status: number,
  bodyText: string,
  headers: ResponseHeaders,
): UpstreamError {
  let error: GoogleRpcStatus | undefined;
  try {
    error = readGoogleError(JSON.parse(bodyText));
  } catch {
    error = undefined;
  }
  const classified =
    error === undefined
      ? { code: codeForStatus(status), retryable: isRetryableStatus(status) }
      : classifyGoogleError(error, status);
  const name = error?.status ? ` ${error.status}` : '';
  const detail = error?.message ? `: ${error.message}` : '';
  return new UpstreamError(classified.code, redactSecrets(`Gemini answered HTTP ${status}${name}${detail}`), {
    status,
    retryable: classified.retryable,
    // Google says how long to wait in the body (RetryInfo); a Retry-After header is rarer.
    retryAfterMs: retryDelayMs(error) ?? retryAfterFromHeaders(headers, status),
  });
}
