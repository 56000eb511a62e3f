import { headerValue, type ResponseHeaders } from './transport.js';

/** The cap on any single wait between attempts (CONTRACT.md section 5). */
export const MAX_BACKOFF_MS = 60_000;

/** Go-style durations as OpenAI sends in x-ratelimit-reset-*: "120ms", "1s", "6m0s", "2m59.56s". */
export function parseDuration(text: string): number | undefined {
  const pattern = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let total = 0;
  let matched = '';
  for (const match of text.matchAll(pattern)) {
    const amount = Number(match[1]);
    const unit = match[2];
    total +=
      unit === 'ms'
        ? amount
        : unit === 's'
          ? amount * 1000
          : unit === 'm'
            ? amount * 60_000
            : amount * 3_600_000;
    matched += match[0];
  }
  return matched.length > 0 && matched === text.trim() ? total : undefined;
}

/**
 * How long the upstream asked us to wait, in ms: `retry-after-ms`, then `Retry-After` (seconds
 * or an HTTP date), then the rate-limit reset headers OpenAI and Anthropic send.
 */
export function retryAfterFromHeaders(
  headers: ResponseHeaders,
  status: number,
  now = Date.now(),
): number | undefined {
  const milliseconds = headerValue(headers, 'retry-after-ms');
  if (milliseconds !== undefined && /^\d+(\.\d+)?$/.test(milliseconds.trim())) return Number(milliseconds);
  const retryAfter = headerValue(headers, 'retry-after')?.trim();
  if (retryAfter) {
    if (/^\d+(\.\d+)?$/.test(retryAfter)) return Number(retryAfter) * 1000;
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  // Reset headers come on every response; they only say "wait" on a rate-limit refusal.
  if (status !== 429) return undefined;
  for (const name of ['x-ratelimit-reset-requests', 'x-ratelimit-reset-tokens']) {
    const value = headerValue(headers, name);
    const parsed = value === undefined ? undefined : parseDuration(value);
    if (parsed !== undefined) return parsed;
  }
  for (const name of ['anthropic-ratelimit-requests-reset', 'anthropic-ratelimit-tokens-reset']) {
    const value = headerValue(headers, name);
    const date = value === undefined ? Number.NaN : Date.parse(value);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  return undefined;
}

/**
 * The wait before attempt `attempt + 1` (attempt counts from 1): exponential from `baseMs`,
 * with "equal jitter" (half fixed, half random) so that synchronized clients spread out, capped.
 * An upstream's own request to wait wins when it is under the cap; above it, undefined: give up.
 */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number | undefined {
  if (retryAfterMs !== undefined) return retryAfterMs <= MAX_BACKOFF_MS ? retryAfterMs : undefined;
  const exponential = Math.min(MAX_BACKOFF_MS, baseMs * 2 ** (attempt - 1));
  return exponential / 2 + (random() * exponential) / 2;
}
