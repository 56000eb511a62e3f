import { describe, expect, it } from 'vitest';
import { formatTraceparent, parseTraceparent, requestIdOf, startGenerationSpan } from './tracing.js';

describe('requestIdOf', () => {
  it('keeps 1-128 characters of [A-Za-z0-9._:-] and replaces anything else', () => {
    expect(requestIdOf('abc-DEF_1.2:3')).toBe('abc-DEF_1.2:3');
    expect(requestIdOf('x'.repeat(128))).toBe('x'.repeat(128));
    for (const bad of ['', 'x'.repeat(129), 'a b', 'a/b', 'é', 'a\nb', undefined]) {
      const id = requestIdOf(bad);
      expect(id).not.toBe(bad);
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(requestIdOf(['first', 'second'])).toBe('first');
  });
});

describe('parseTraceparent', () => {
  const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
  const span = '00f067aa0ba902b7';
  it('reads version 00 and later versions as W3C Trace Context says', () => {
    expect(parseTraceparent(`00-${trace}-${span}-01`)).toEqual({ traceId: trace, spanId: span, flags: 1 });
    expect(parseTraceparent(` 00-${trace}-${span}-00 `)).toEqual({ traceId: trace, spanId: span, flags: 0 });
    // A later version may add fields; version 00 may not.
    expect(parseTraceparent(`01-${trace}-${span}-01-extra`)).toEqual({
      traceId: trace,
      spanId: span,
      flags: 1,
    });
    expect(parseTraceparent(`00-${trace}-${span}-01-extra`)).toBeUndefined();
  });
  it('refuses what is malformed', () => {
    for (const bad of [
      '',
      'garbage',
      `ff-${trace}-${span}-01`,
      `00-${'0'.repeat(32)}-${span}-01`,
      `00-${trace}-${'0'.repeat(16)}-01`,
      `00-${trace.toUpperCase()}-${span}-01`,
      `00-${trace}-${span}-1`,
      `00-${trace.slice(1)}-${span}-01`,
    ]) {
      expect(parseTraceparent(bad), bad).toBeUndefined();
    }
  });
  it('round-trips through formatTraceparent', () => {
    const value = `00-${trace}-${span}-01`;
    const parsed = parseTraceparent(value);
    expect(parsed && formatTraceparent(parsed)).toBe(value);
  });
});

describe('startGenerationSpan without an SDK', () => {
  it('makes a child span id in the caller trace, or a new trace', () => {
    const parent = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', flags: 1 };
    const base = { provider: 'openai', model: 'm', requestId: 'r', generationId: 'g', tracestate: 'a=b' };
    const child = startGenerationSpan({ ...base, parent });
    const [, traceId, spanId, flags] = child.upstreamHeaders.traceparent?.split('-') ?? [];
    expect(traceId).toBe(parent.traceId);
    expect(spanId).not.toBe(parent.spanId);
    expect(flags).toBe('01');
    expect(child.upstreamHeaders.tracestate).toBe('a=b');
    const fresh = startGenerationSpan({ ...base, parent: undefined });
    expect(parseTraceparent(fresh.upstreamHeaders.traceparent)).toBeDefined();
    expect(fresh.upstreamHeaders.tracestate).toBeUndefined();
    child.end({
      finishReason: 'stop',
      inputTokens: 1,
      outputTokens: 2,
      responseModel: undefined,
      responseId: undefined,
      attempts: 1,
      errorCode: undefined,
    });
  });
});
