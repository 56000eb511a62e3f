import {
  codeForStatus,
  isRetryableStatus,
  redactSecrets,
  type StreamFailure,
  UpstreamError,
} from '../../core/errors.js';
import type { StreamErrorCode } from '../../protocol/frames.js';
import { retryAfterFromHeaders } from '../../upstream/retry.js';
import type { ResponseHeaders } from '../../upstream/transport.js';

/**
 * Ollama reports every failure as `{"error": "<text>"}` (Go `gin.H{"error": err.Error()}`),
 * before the stream as the body of a 4xx/5xx, and during it as one more NDJSON line; some
 * handlers add `"status": <code>`. The text is all there is to classify by.
 */

/** `model 'x' not found, try pulling it first` (older) and `model "x" not found` (newer). */
const MODEL_NOT_FOUND = /\bmodel\b.*\bnot found\b/i;

/** The text of an Ollama error value: a string, or an object with a `message` / `error` string. */
function ollamaErrorText(error: unknown): string {
  if (typeof error === 'string' && error.length > 0) return error;
  if (typeof error === 'object' && error !== null) {
    const record = error as Record<string, unknown>;
    if (typeof record.message === 'string') return record.message;
    if (typeof record.error === 'string') return record.error;
  }
  return 'unknown error';
}

/** An error line inside a stream (the HTTP status was already 200). */
export function classifyOllamaStreamError(error: unknown, status?: unknown): StreamFailure {
  const message = ollamaErrorText(error);
  // A missing model cannot succeed on another attempt: the user has to pull it.
  if (MODEL_NOT_FOUND.test(message)) return { code: 'bad_request', message, retryable: false };
  if (typeof status === 'number' && status >= 400) {
    return { code: codeForStatus(status), message, retryable: isRetryableStatus(status) };
  }
  return { code: 'upstream_error', message, retryable: true };
}

function bodyMessage(bodyText: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(bodyText);
    if (typeof parsed === 'object' && parsed !== null && 'error' in parsed) {
      return ollamaErrorText((parsed as { error: unknown }).error);
    }
  } catch {
    // Not JSON: a proxy in front of Ollama answered; its text (bounded) is still worth showing.
  }
  const text = bodyText.trim();
  if (text.length === 0) return undefined;
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

function codeFor(status: number, message: string | undefined): { code: StreamErrorCode; retryable: boolean } {
  if (message !== undefined && MODEL_NOT_FOUND.test(message))
    return { code: 'bad_request', retryable: false };
  // Ollama's 503 is its request queue being full ("server busy, please try again").
  if (status === 503) return { code: 'overloaded', retryable: true };
  if (status >= 500) return { code: 'upstream_error', retryable: true };
  return { code: codeForStatus(status), retryable: isRetryableStatus(status) };
}

/** Non-2xx answers of `/api/chat`. */
export function mapOllamaHttpError(
  status: number,
  bodyText: string,
  headers: ResponseHeaders,
): UpstreamError {
  const message = bodyMessage(bodyText);
  const { code, retryable } = codeFor(status, message);
  return new UpstreamError(
    code,
    redactSecrets(`Ollama answered HTTP ${status}${message === undefined ? '' : `: ${message}`}`),
    { status, retryable, retryAfterMs: retryAfterFromHeaders(headers, status) },
  );
}
