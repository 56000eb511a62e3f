import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTranscript } from '../../../test/helpers/replay.js';
import { mapGeminiHttpError } from './errors.js';

const status = (code: number, name: string, message: string, details?: unknown[]) =>
  JSON.stringify({ error: { code, message, status: name, ...(details ? { details } : {}) } }, null, 2);

describe('Gemini HTTP errors', () => {
  it('429 RESOURCE_EXHAUSTED: rate_limited, retryable, RetryInfo retryDelay wins over headers', () => {
    const body = readTranscript(join(import.meta.dirname, 'fixtures', 'gemini-error-429.json.txt')).toString(
      'utf8',
    );
    const error = mapGeminiHttpError(429, body, { 'retry-after': '5' });
    expect(error.code).toBe('rate_limited');
    expect(error.retryable).toBe(true);
    expect(error.status).toBe(429);
    expect(error.retryAfterMs).toBe(34_400);
    expect(error.message).toBe(
      'Gemini answered HTTP 429 RESOURCE_EXHAUSTED: You exceeded your current quota, please check your plan.',
    );
  });

  it('falls back to Retry-After when the body has no RetryInfo', () => {
    const error = mapGeminiHttpError(503, status(503, 'UNAVAILABLE', 'The model is overloaded.'), {
      'retry-after': '2',
    });
    expect(error).toMatchObject({ code: 'overloaded', retryable: true, retryAfterMs: 2000 });
  });

  it('maps 400, 401, 403, 500 and 503 statuses', () => {
    const cases: [number, string, string, boolean][] = [
      [400, 'INVALID_ARGUMENT', 'bad_request', false],
      [401, 'UNAUTHENTICATED', 'provider_auth', false],
      [403, 'PERMISSION_DENIED', 'provider_auth', false],
      [404, 'NOT_FOUND', 'bad_request', false],
      [500, 'INTERNAL', 'upstream_error', true],
      [503, 'UNAVAILABLE', 'overloaded', true],
      [504, 'DEADLINE_EXCEEDED', 'timeout', true],
    ];
    for (const [code, name, expected, retryable] of cases) {
      const error = mapGeminiHttpError(code, status(code, name, 'Something.'), {});
      expect(error).toMatchObject({ code: expected, retryable, status: code });
      expect(error.message).toBe(`Gemini answered HTTP ${code} ${name}: Something.`);
      expect(error.retryAfterMs).toBeUndefined();
    }
  });

  it('a 400 API_KEY_INVALID is an auth failure, and the key never leaks into the message', () => {
    const key = 'AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW';
    const body = status(400, 'INVALID_ARGUMENT', `API key not valid. Please pass a valid API key. (${key})`, [
      {
        '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
        reason: 'API_KEY_INVALID',
        domain: 'googleapis.com',
      },
    ]);
    const error = mapGeminiHttpError(400, body, {});
    expect(error).toMatchObject({ code: 'provider_auth', retryable: false });
    expect(error.message).not.toContain(key);
    expect(error.message).toContain('[redacted]');
  });

  it('copes with non-JSON bodies and the JSON-array form', () => {
    expect(mapGeminiHttpError(502, '<html>Bad Gateway</html>', {})).toMatchObject({
      code: 'upstream_error',
      retryable: true,
      message: 'Gemini answered HTTP 502',
    });
    const array = `[${status(429, 'RESOURCE_EXHAUSTED', 'Slow down.', [
      { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '7s' },
    ])}]`;
    expect(mapGeminiHttpError(429, array, {})).toMatchObject({ code: 'rate_limited', retryAfterMs: 7000 });
  });
});
