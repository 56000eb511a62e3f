import { codeForStatus, isRetryableStatus, redactSecrets, UpstreamError } from '../../core/errors.js';
import { retryAfterFromHeaders } from '../../upstream/retry.js';
import type { ResponseHeaders } from '../../upstream/transport.js';
import { classifyOpenAiError } from './codec.js';

/** Non-2xx responses of OpenAI-compatible APIs: `{"error": {"message", "type", "code"}}`. */
export function mapOpenAiHttpError(
  displayName: string,
  status: number,
  bodyText: string,
  headers: ResponseHeaders,
): UpstreamError {
  let detail: string | undefined;
  let quotaExhausted = false;
  try {
    const parsed = JSON.parse(bodyText) as { error?: unknown };
    if (parsed.error !== undefined) {
      const classified = classifyOpenAiError(parsed.error);
      detail = classified.message;
      quotaExhausted = status === 429 && !classified.retryable;
    }
  } catch {
    detail = undefined;
  }
  const code = codeForStatus(status);
  const message = redactSecrets(`${displayName} answered HTTP ${status}${detail ? `: ${detail}` : ''}`);
  return new UpstreamError(code, message, {
    status,
    retryable: isRetryableStatus(status) && !quotaExhausted,
    retryAfterMs: retryAfterFromHeaders(headers, status),
  });
}
