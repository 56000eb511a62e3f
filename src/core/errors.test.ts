import { describe, expect, it } from 'vitest';
import { codeForStatus, isRetryableStatus, RequestError, redactSecrets } from './errors.js';

describe('errors', () => {
  it('retries 408, 409, 429 and 5xx only', () => {
    expect([400, 401, 403, 404, 408, 409, 429, 500, 502, 503, 504, 529].filter(isRetryableStatus)).toEqual([
      408, 409, 429, 500, 502, 503, 504, 529,
    ]);
  });

  it('maps statuses onto stream error codes', () => {
    expect([401, 403, 429, 529, 503, 504, 400, 500].map(codeForStatus)).toEqual([
      'provider_auth',
      'provider_auth',
      'rate_limited',
      'overloaded',
      'overloaded',
      'timeout',
      'bad_request',
      'upstream_error',
    ]);
  });

  it('redacts keys providers echo back', () => {
    const text = redactSecrets(
      'Incorrect API key provided: sk-VKMIs***************wjh3. url?key=AIzaSyA1234567890abcdefghij&x=1 Bearer abc.def mine-secret-123',
      ['mine-secret-123'],
    );
    expect(text).not.toMatch(/sk-VKMIs|AIzaSy|abc\.def|mine-secret/);
  });

  it('serializes request errors as the contract body', () => {
    expect(new RequestError('invalid_request', 'bad', 'temperature').toJSON()).toEqual({
      error: { code: 'invalid_request', message: 'bad', field: 'temperature' },
    });
    expect(new RequestError('payload_too_large', 'big').status).toBe(413);
  });
});
