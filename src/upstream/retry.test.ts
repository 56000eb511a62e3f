import { describe, expect, it } from 'vitest';
import { backoffDelay, MAX_BACKOFF_MS, parseDuration, retryAfterFromHeaders } from './retry.js';

describe('retry policy', () => {
  it('parses Go-style durations', () => {
    expect(parseDuration('120ms')).toBe(120);
    expect(parseDuration('1s')).toBe(1000);
    expect(parseDuration('6m0s')).toBe(360_000);
    expect(parseDuration('2m59.56s')).toBeCloseTo(179_560);
    expect(parseDuration('soon')).toBeUndefined();
  });

  it('reads retry-after-ms, Retry-After seconds and dates, and rate-limit resets on 429 only', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterFromHeaders({ 'retry-after-ms': '250' }, 429, now)).toBe(250);
    expect(retryAfterFromHeaders({ 'retry-after': '3' }, 503, now)).toBe(3000);
    expect(retryAfterFromHeaders({ 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' }, 429, now)).toBe(5000);
    expect(retryAfterFromHeaders({ 'x-ratelimit-reset-requests': '120ms' }, 429, now)).toBe(120);
    expect(retryAfterFromHeaders({ 'x-ratelimit-reset-requests': '120ms' }, 500, now)).toBeUndefined();
    expect(
      retryAfterFromHeaders({ 'anthropic-ratelimit-requests-reset': '2026-01-01T00:00:02Z' }, 429, now),
    ).toBe(2000);
    expect(retryAfterFromHeaders({}, 429, now)).toBeUndefined();
  });

  it('backs off exponentially with jitter, capped, and gives up on a wait above the cap', () => {
    expect(backoffDelay(1, 1000, undefined, () => 0)).toBe(500);
    expect(backoffDelay(1, 1000, undefined, () => 1)).toBe(1000);
    expect(backoffDelay(3, 1000, undefined, () => 1)).toBe(4000);
    expect(backoffDelay(20, 1000, undefined, () => 1)).toBe(MAX_BACKOFF_MS);
    expect(backoffDelay(1, 1000, 2500)).toBe(2500);
    expect(backoffDelay(1, 1000, 61_000)).toBeUndefined();
  });
});
