import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { chatBody, postStream } from '../helpers/sse.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';
const CALLER = `00-${TRACE_ID}-${CALLER_SPAN}-01`;
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

let harness: TestGateway;
beforeAll(async () => {
  harness = await startTestGateway();
});
afterAll(() => harness.close());

/** The headers of the last request the emulated OpenAI received. */
function upstreamHeaders(): Record<string, string | string[] | undefined> {
  const headers = harness.emulator.stats('openai').headers.at(-1);
  if (headers === undefined) throw new Error('the emulator saw no request');
  return headers;
}

describe('request ids', () => {
  it('are taken from X-Request-Id, echoed, put in start and sent upstream', async () => {
    const result = await postStream(harness.url, chatBody(), {
      headers: { 'x-request-id': 'req:Trace-1.a_b' },
    });
    expect(result.headers.get('x-request-id')).toBe('req:Trace-1.a_b');
    expect(result.frames[0]?.data.request_id).toBe('req:Trace-1.a_b');
    expect(upstreamHeaders()['x-request-id']).toBe('req:Trace-1.a_b');
  });

  it('are made when absent or malformed, and then used the same way everywhere', async () => {
    for (const sent of [undefined, 'has spaces in it', 'x'.repeat(129), 'semi;colon']) {
      const result = await postStream(harness.url, chatBody(), {
        headers: sent === undefined ? {} : { 'x-request-id': sent },
      });
      const id = result.headers.get('x-request-id') ?? '';
      expect(id).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
      expect(id).not.toBe(sent);
      expect(result.frames[0]?.data.request_id).toBe(id);
      expect(upstreamHeaders()['x-request-id']).toBe(id);
    }
    // Refusals carry one too.
    const refused = await postStream(
      harness.url,
      { provider: 'nope' },
      { headers: { 'x-request-id': 'r-400' } },
    );
    expect(refused.status).toBe(400);
    expect(refused.headers.get('x-request-id')).toBe('r-400');
  });
});

describe('traceparent without an OpenTelemetry SDK', () => {
  it('goes upstream as a child of the caller: same trace, a new span id, same flags', async () => {
    await postStream(harness.url, chatBody(), { headers: { traceparent: CALLER, tracestate: 'vendor=abc' } });
    const sent = String(upstreamHeaders().traceparent);
    const [, traceId, spanId, flags] = TRACEPARENT.exec(sent) ?? [];
    expect(traceId).toBe(TRACE_ID);
    expect(spanId).not.toBe(CALLER_SPAN);
    expect(spanId).not.toBe('0000000000000000');
    expect(flags).toBe('01');
    expect(upstreamHeaders().tracestate).toBe('vendor=abc');
  });

  it('starts a new trace when the caller sent none (or a malformed one)', async () => {
    const seen = new Set<string>();
    for (const header of [undefined, 'garbage', `00-${'0'.repeat(32)}-${CALLER_SPAN}-01`]) {
      await postStream(harness.url, chatBody(), {
        headers: header === undefined ? {} : { traceparent: header },
      });
      const match = TRACEPARENT.exec(String(upstreamHeaders().traceparent));
      expect(match).not.toBeNull();
      expect(match?.[1]).not.toBe('0'.repeat(32));
      seen.add(match?.[1] ?? '');
      expect(upstreamHeaders().tracestate).toBeUndefined();
    }
    expect(seen.size).toBe(3);
  });
});

describe('with an OpenTelemetry SDK registered', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  beforeAll(() => {
    trace.setGlobalTracerProvider(provider);
  });
  afterAll(async () => {
    trace.disable();
    await provider.shutdown();
  });

  const spansOf = (generationId: string): ReadableSpan[] =>
    exporter.getFinishedSpans().filter((span) => span.attributes['sluice.generation_id'] === generationId);

  it('records one span per generation with the GenAI attributes, as a child of the caller', async () => {
    const result = await postStream(
      harness.url,
      chatBody('openai', { model: 'gpt-4o-mini', max_tokens: 200 }),
      {
        headers: { traceparent: CALLER, 'x-request-id': 'req-span-1' },
      },
    );
    const generationId = result.frames[0]?.data.generation_id as string;
    await eventually(() => spansOf(generationId).length === 1, 2000, 'the span');
    const [span] = spansOf(generationId);
    if (span === undefined) throw new Error('no span');
    expect(span.name).toBe('chat gpt-4o-mini');
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(span.spanContext().traceId).toBe(TRACE_ID);
    expect(span.parentSpanContext?.spanId).toBe(CALLER_SPAN);
    const usage = result.frames.at(-1)?.data.usage;
    expect(span.attributes).toMatchObject({
      'gen_ai.system': 'openai',
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.request.max_tokens': 200,
      'gen_ai.usage.input_tokens': usage.input_tokens,
      'gen_ai.usage.output_tokens': usage.output_tokens,
      'gen_ai.response.finish_reasons': ['stop'],
      'sluice.request_id': 'req-span-1',
    });
    expect(span.attributes['gen_ai.response.model']).toBeTypeOf('string');
    // The upstream's parent is the gateway's own span.
    expect(upstreamHeaders().traceparent).toBe(`00-${TRACE_ID}-${span.spanContext().spanId}-01`);
  });

  it('one span each for several generations; a failed one is marked as an error', async () => {
    exporter.reset();
    const ids: string[] = [];
    for (let index = 0; index < 3; index++) {
      const result = await postStream(harness.url, chatBody('anthropic'));
      ids.push(result.frames[0]?.data.generation_id as string);
    }
    harness.emulator.enqueue('openai', {
      fault: { type: 'midstream_error', afterChunks: 1, kind: 'overloaded' },
    });
    const failed = await postStream(harness.url, chatBody());
    const failedId = failed.frames[0]?.data.generation_id as string;
    await eventually(() => exporter.getFinishedSpans().length === 4, 2000, 'four spans');
    for (const id of ids) {
      expect(spansOf(id)).toHaveLength(1);
      expect(spansOf(id)[0]?.attributes['gen_ai.system']).toBe('anthropic');
    }
    const [errored] = spansOf(failedId);
    expect(errored?.status.code).toBe(SpanStatusCode.ERROR);
    expect(errored?.attributes['error.type']).toBe('overloaded');
    expect(errored?.attributes['gen_ai.response.finish_reasons']).toEqual(['error']);
    // A new trace for a caller without one.
    expect(errored?.parentSpanContext).toBeUndefined();
  });
});
