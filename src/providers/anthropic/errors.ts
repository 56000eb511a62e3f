import {
  codeForStatus,
  isRetryableStatus,
  redactSecrets,
  type StreamFailure,
  UpstreamError,
} from '../../core/errors.js';
import type { StreamErrorCode } from '../../protocol/frames.js';
import { retryAfterFromHeaders } from '../../upstream/retry.js';
import { headerValue, type ResponseHeaders } from '../../upstream/transport.js';

/**
 * Anthropic errors share one envelope, in HTTP bodies and in the stream's `error` event:
 * `{"type": "error", "error": {"type": "...", "message": "..."}, "request_id": "req_..."}`
 * (docs/wire.md §2.4 and §2.7).
 */

const ERROR_TYPES: Readonly<Record<string, { code: StreamErrorCode; retryable: boolean }>> = {
  overloaded_error: { code: 'overloaded', retryable: true },
  rate_limit_error: { code: 'rate_limited', retryable: true },
  api_error: { code: 'upstream_error', retryable: true },
  timeout_error: { code: 'upstream_error', retryable: true },
  authentication_error: { code: 'provider_auth', retryable: false },
  permission_error: { code: 'provider_auth', retryable: false },
  invalid_request_error: { code: 'bad_request', retryable: false },
  not_found_error: { code: 'bad_request', retryable: false },
  request_too_large: { code: 'bad_request', retryable: false },
  // Another attempt cannot fix an empty balance.
  billing_error: { code: 'upstream_error', retryable: false },
};

interface ClassifiedError extends StreamFailure {
  /** Anthropic's own `error.type`, when it gave one. */
  type: string | undefined;
}

/** An Anthropic `error` object (`{type, message}`) onto a stream error; the message is redacted. */
export function classifyAnthropicError(error: unknown): ClassifiedError {
  const object = (typeof error === 'object' && error !== null ? error : {}) as Record<string, unknown>;
  const type = typeof object.type === 'string' ? object.type : undefined;
  const text =
    typeof object.message === 'string'
      ? object.message
      : typeof error === 'string'
        ? error
        : 'upstream error';
  const known = (type !== undefined ? ERROR_TYPES[type] : undefined) ?? {
    code: 'upstream_error' as const,
    retryable: true,
  };
  return { ...known, type, message: redactSecrets(type ? `${type}: ${text}` : text) };
}

/** A non-2xx answer of the Messages API onto the stream error it means. */
export function mapAnthropicHttpError(
  status: number,
  bodyText: string,
  headers: ResponseHeaders,
  secrets: readonly string[] = [],
): UpstreamError {
  let classified: ClassifiedError | undefined;
  let requestId = headerValue(headers, 'request-id');
  try {
    const parsed = JSON.parse(bodyText) as { error?: unknown; request_id?: unknown };
    if (parsed.error !== undefined) classified = classifyAnthropicError(parsed.error);
    if (typeof parsed.request_id === 'string') requestId = parsed.request_id;
  } catch {
    // Not JSON (a proxy's HTML page, an empty body): the status alone decides.
  }
  // The status decides the code; the body only refines a server-side status it agrees with
  // (an overloaded_error behind a plain 500 or 503 from a proxy is still an overload).
  let code = codeForStatus(status);
  if (status >= 500 && classified?.code === 'overloaded') code = 'overloaded';
  const detail = classified ? `: ${classified.message}` : '';
  const reference = requestId ? ` (request ${requestId})` : '';
  const message = redactSecrets(`Anthropic answered HTTP ${status}${detail}${reference}`, secrets);
  const retryable = code !== 'provider_auth' && isRetryableStatus(status);
  return new UpstreamError(code, message, {
    status,
    retryable,
    retryAfterMs: retryable ? retryAfterFromHeaders(headers, status) : undefined,
  });
}
