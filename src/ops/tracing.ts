import { randomUUID } from 'node:crypto';
import {
  type Attributes,
  context,
  isSpanContextValid,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { randomHex } from '../core/random.js';

/**
 * Request ids and traces (CONTRACT.md section 10). A request id is taken from `X-Request-Id`
 * when it is well formed, else made here. A W3C `traceparent` is continued: the gateway's span
 * for a generation is a child of the caller's, and the upstream request carries that span as its
 * parent. Spans go through `@opentelemetry/api`, a no-op until the operator registers an SDK;
 * without one the gateway still makes a child span id of its own, so the upstream always sees a
 * well-formed `traceparent` in the caller's trace (or in a new one when the caller sent none).
 */

export const REQUEST_ID_HEADER = 'X-Request-Id';
export const TRACEPARENT_HEADER = 'traceparent';
export const TRACESTATE_HEADER = 'tracestate';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request id of a request: its own when well formed, else a new one. */
export function requestIdOf(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && REQUEST_ID.test(value) ? value : randomUUID();
}

/** A W3C trace context: the caller's span, or one of ours. */
export interface TraceParent {
  traceId: string;
  spanId: string;
  /** The trace-flags byte (bit 0: sampled). */
  flags: number;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * Parses `traceparent` as W3C Trace Context level 1 says: version `ff` and all-zero ids are
 * invalid; version 00 has exactly four fields; a later version may add fields after them.
 */
export function parseTraceparent(header: string | string[] | undefined): TraceParent | undefined {
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  if (value === undefined) return undefined;
  const match = TRACEPARENT.exec(value);
  if (match === null) return undefined;
  const [, version, traceId = '', spanId = '', flags = '00', rest] = match;
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return { traceId, spanId, flags: Number.parseInt(flags, 16) };
}

export function formatTraceparent(parent: TraceParent): string {
  return `00-${parent.traceId}-${parent.spanId}-${(parent.flags & 0xff).toString(16).padStart(2, '0')}`;
}

/** `gen_ai.system` values of the GenAI semantic conventions, where they name the provider differently. */
const GEN_AI_SYSTEM: Readonly<Record<string, string>> = { gemini: 'gcp.gemini' };

/** What a generation's span is started with. */
export interface SpanStart {
  provider: string;
  model: string;
  requestId: string;
  generationId: string;
  /** The caller's `traceparent` and `tracestate`, if it sent them. */
  parent: TraceParent | undefined;
  tracestate: string | undefined;
  maxTokens?: number | undefined;
  temperature?: number | undefined;
}

/** How a generation ended, for its span. */
export interface SpanEnd {
  finishReason: string | null;
  inputTokens: number | undefined;
  outputTokens: number | undefined;
  responseModel: string | undefined;
  responseId: string | undefined;
  attempts: number | undefined;
  errorCode: string | undefined;
}

export interface GenerationSpan {
  /** Headers for the upstream request: `traceparent` (our span as parent) and the caller's `tracestate`. */
  readonly upstreamHeaders: Record<string, string>;
  end(outcome: SpanEnd): void;
}

const tracer = trace.getTracer('sluice');

/**
 * Starts the span of one generation (`chat {model}`, kind client, as the GenAI conventions name
 * an inference call) and gives the headers that carry it upstream.
 */
export function startGenerationSpan(start: SpanStart): GenerationSpan {
  const parentContext =
    start.parent === undefined
      ? context.active()
      : trace.setSpanContext(context.active(), {
          traceId: start.parent.traceId,
          spanId: start.parent.spanId,
          traceFlags: start.parent.flags & 0x01,
          isRemote: true,
        });
  const attributes: Attributes = {
    'gen_ai.operation.name': 'chat',
    'gen_ai.system': GEN_AI_SYSTEM[start.provider] ?? start.provider,
    'gen_ai.provider.name': GEN_AI_SYSTEM[start.provider] ?? start.provider,
    'gen_ai.request.model': start.model,
    'sluice.generation_id': start.generationId,
    'sluice.request_id': start.requestId,
  };
  if (start.maxTokens !== undefined) attributes['gen_ai.request.max_tokens'] = start.maxTokens;
  if (start.temperature !== undefined) attributes['gen_ai.request.temperature'] = start.temperature;
  const span: Span = tracer.startSpan(
    `chat ${start.model}`,
    { kind: SpanKind.CLIENT, attributes },
    parentContext,
  );
  const own = span.spanContext();
  // With an SDK the span has an id of its own; the no-op API hands back the parent's context
  // (or an invalid one), and then the gateway's hop gets a fresh span id here.
  const hop: TraceParent =
    isSpanContextValid(own) && own.spanId !== start.parent?.spanId
      ? { traceId: own.traceId, spanId: own.spanId, flags: own.traceFlags }
      : {
          traceId: start.parent?.traceId ?? randomHex(32),
          spanId: randomHex(16),
          flags: start.parent?.flags ?? 0,
        };
  const upstreamHeaders: Record<string, string> = { traceparent: formatTraceparent(hop) };
  if (start.parent !== undefined && start.tracestate !== undefined && start.tracestate.length <= 512) {
    upstreamHeaders.tracestate = start.tracestate;
  }
  let ended = false;
  return {
    upstreamHeaders,
    end(outcome) {
      if (ended) return;
      ended = true;
      if (!span.isRecording()) {
        span.end();
        return;
      }
      const attributes: Attributes = {};
      if (outcome.finishReason !== null)
        attributes['gen_ai.response.finish_reasons'] = [outcome.finishReason];
      if (outcome.inputTokens !== undefined) attributes['gen_ai.usage.input_tokens'] = outcome.inputTokens;
      if (outcome.outputTokens !== undefined) attributes['gen_ai.usage.output_tokens'] = outcome.outputTokens;
      if (outcome.responseModel !== undefined) attributes['gen_ai.response.model'] = outcome.responseModel;
      if (outcome.responseId !== undefined) attributes['gen_ai.response.id'] = outcome.responseId;
      if (outcome.attempts !== undefined) attributes['sluice.attempts'] = outcome.attempts;
      if (outcome.errorCode !== undefined) {
        attributes['error.type'] = outcome.errorCode;
        span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.errorCode });
      }
      span.setAttributes(attributes);
      span.end();
    },
  };
}
