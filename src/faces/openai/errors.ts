import type { RequestError } from '../../core/errors.js';
import type { StreamErrorCode } from '../../protocol/frames.js';

/**
 * Sluice's errors in OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, with the
 * HTTP statuses the OpenAI SDKs turn into their typed errors (400 BadRequestError, 401
 * AuthenticationError, 404 NotFoundError, 429 RateLimitError, 5xx InternalServerError).
 */
export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** OpenAI's `type` for a status: what its own API writes there. */
function typeForStatus(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/**
 * A refusal before the stream: the status of CONTRACT.md section 2, but a model the gateway
 * does not serve (an unknown provider in the name, a model outside a provider's list) is OpenAI's
 * 404 `model_not_found`, since on this API the provider is part of the model name.
 */
export function openAiRefusal(
  error: RequestError,
  param: string | undefined,
): { status: number; body: OpenAiErrorBody } {
  const modelNotFound = error.code === 'model_not_supported' || error.code === 'unknown_provider';
  const status = modelNotFound ? 404 : error.status;
  return {
    status,
    body: {
      error: {
        message: error.message,
        type: typeForStatus(status),
        param: param ?? null,
        code: modelNotFound ? 'model_not_found' : error.code,
      },
    },
  };
}

/**
 * A generation that failed before its first content: the HTTP status it is answered with, as
 * OpenAI would answer the same failure. Answers of `content_filter` are not failures on this API:
 * they end with `finish_reason: "content_filter"`.
 */
const FAILURE_STATUS: Readonly<Record<StreamErrorCode | 'cancelled', number>> = {
  rate_limited: 429,
  provider_auth: 401,
  bad_request: 400,
  content_filter: 400,
  overloaded: 503,
  timeout: 504,
  upstream_error: 502,
  upstream_disconnected: 502,
  incomplete: 502,
  internal: 500,
  // Someone stopped it by id: a conflict with this request, which retrying would not resolve.
  cancelled: 409,
};

export function failureStatus(code: StreamErrorCode | 'cancelled'): number {
  return FAILURE_STATUS[code];
}

/** The body of a failed generation, before the stream (with {@link failureStatus}) or in it. */
export function openAiFailure(code: StreamErrorCode | 'cancelled', message: string): OpenAiErrorBody {
  return { error: { message, type: typeForStatus(failureStatus(code)), param: null, code } };
}
