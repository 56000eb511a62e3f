import { describe, expect, it } from 'vitest';
import { negotiateForm } from './accept.js';

describe('negotiateForm', () => {
  it.each([
    [undefined, 'sse'],
    ['', 'sse'],
    ['*/*', 'sse'],
    ['application/json', 'sse'],
    ['text/event-stream', 'sse'],
    ['application/x-ndjson', 'ndjson'],
    ['application/jsonl', 'ndjson'],
    ['text/plain', 'text'],
    ['Text/Plain; charset=utf-8', 'text'],
    ['text/plain, */*', 'text'],
    ['text/plain, */*;q=0.1', 'text'],
    ['text/*', 'sse'],
    ['text/plain;q=0.5, text/event-stream', 'sse'],
    ['text/event-stream;q=0.2, application/x-ndjson;q=0.9', 'ndjson'],
    ['application/x-ndjson;q=0, */*', 'sse'],
    ['text/plain;q=0', 'sse'],
    ['image/png', 'sse'],
  ] as const)('Accept %j -> %s', (accept, form) => {
    expect(negotiateForm(accept)).toBe(form);
  });
});
