import { describe, expect, it } from 'vitest';
import { UpstreamError } from '../../core/errors.js';
import { mapAnthropicHttpError } from './errors.js';

const envelope = (type: string, message: string) =>
  JSON.stringify({ type: 'error', error: { type, message }, request_id: 'req_011CSHoEeqs5C35K2UUqR7Fy' });

describe('Anthropic HTTP errors', () => {
  it('529 overloaded_error is overloaded and retryable', () => {
    const error = mapAnthropicHttpError(529, envelope('overloaded_error', 'Overloaded'), {});
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({ code: 'overloaded', retryable: true, status: 529 });
    expect(error.message).toBe(
      'Anthropic answered HTTP 529: overloaded_error: Overloaded (request req_011CSHoEeqs5C35K2UUqR7Fy)',
    );
  });

  it('429 is rate_limited, retryable, honouring retry-after', () => {
    const body =
      '{"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed your account\'s rate limit. Please try again later."},"request_id":"req_011CcR9mkMvXdaiWP4739PSN"}';
    const error = mapAnthropicHttpError(429, body, { 'retry-after': '7' });
    expect(error).toMatchObject({ code: 'rate_limited', retryable: true, retryAfterMs: 7000 });
    const fromReset = mapAnthropicHttpError(429, body, {
      'anthropic-ratelimit-requests-reset': new Date(Date.now() + 30_000).toISOString(),
    });
    expect(fromReset.retryAfterMs).toBeGreaterThan(25_000);
  });

  it('401 and 403 are provider_auth, never retried, and the key never shows', () => {
    const key = 'sk-ant-api03-SECRETSECRETSECRET';
    for (const status of [401, 403]) {
      const error = mapAnthropicHttpError(
        status,
        envelope('authentication_error', `invalid x-api-key ${key}`),
        {
          'retry-after': '1',
        },
      );
      expect(error).toMatchObject({ code: 'provider_auth', retryable: false, retryAfterMs: undefined });
      expect(error.message).not.toContain('SECRET');
      expect(error.message).toContain('[redacted]');
    }
  });

  it('400 is bad_request, not retryable', () => {
    const error = mapAnthropicHttpError(
      400,
      envelope('invalid_request_error', 'max_tokens: Field required'),
      { 'request-id': 'req_header' },
    );
    expect(error).toMatchObject({ code: 'bad_request', retryable: false, status: 400 });
    expect(error.message).toContain('max_tokens: Field required');
  });

  it('500 api_error is a retryable upstream_error; a non-JSON body still maps by status', () => {
    expect(mapAnthropicHttpError(500, envelope('api_error', 'Internal server error'), {})).toMatchObject({
      code: 'upstream_error',
      retryable: true,
    });
    const html = mapAnthropicHttpError(502, '<html>Bad gateway</html>', { 'request-id': 'req_abc' });
    expect(html).toMatchObject({ code: 'upstream_error', retryable: true });
    expect(html.message).toBe('Anthropic answered HTTP 502 (request req_abc)');
    expect(mapAnthropicHttpError(503, envelope('overloaded_error', 'Overloaded'), {}).code).toBe(
      'overloaded',
    );
  });
});
