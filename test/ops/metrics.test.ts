import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { openLive, streamRequest } from '../helpers/live.js';
import { chatBody, postStream } from '../helpers/sse.js';

interface Family {
  name: string;
  type: string;
  metrics: { value?: string; labels?: Record<string, string>; buckets?: Record<string, string> }[];
}

let harness: TestGateway;
beforeAll(async () => {
  harness = await startTestGateway({ resumeGraceMs: 1000 });
});
afterAll(() => harness.close());

async function scrape(): Promise<Map<string, Family>> {
  const response = await fetch(`${harness.url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const families = parsePrometheusTextFormat(await response.text()) as Family[];
  return new Map(families.map((family) => [family.name, family]));
}

/** The value of the sample whose labels include `labels` (0 when there is none). */
function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const family = families.get(name);
  const sample = family?.metrics.find((metric) =>
    Object.entries(labels).every(([key, expected]) => metric.labels?.[key] === expected),
  );
  return Number(sample?.value ?? 0);
}

const CONTRACT_NAMES = [
  'sluice_requests_total',
  'sluice_generations_total',
  'sluice_active_generations',
  'sluice_active_streams',
  'sluice_ttft_seconds',
  'sluice_output_tokens_total',
  'sluice_input_tokens_total',
  'sluice_upstream_attempts_total',
  'sluice_stream_errors_total',
  'sluice_resumes_total',
  'sluice_cancels_total',
  'process_resident_memory_bytes',
  'nodejs_eventloop_lag_seconds',
];

describe('GET /metrics', () => {
  it('has every name of the contract, typed', async () => {
    const families = await scrape();
    for (const name of CONTRACT_NAMES) expect(families.has(name), name).toBe(true);
    expect(families.get('sluice_requests_total')?.type).toBe('COUNTER');
    expect(families.get('sluice_active_streams')?.type).toBe('GAUGE');
    expect(families.get('sluice_ttft_seconds')?.type).toBe('HISTOGRAM');
    expect(value(families, 'process_resident_memory_bytes')).toBeGreaterThan(1_000_000);
  });

  it('counts requests, generations, tokens and attempts as streams run', async () => {
    const before = await scrape();
    const model = 'gpt-4o-mini';
    const labels = { provider: 'openai', model };
    for (let index = 0; index < 3; index++) {
      const result = await postStream(harness.url, chatBody('openai', { model }));
      expect(result.status).toBe(200);
    }
    await eventually(() => harness.gateway.store.running().length === 0, 2000, 'generations to end');
    const after = await scrape();
    const delta = (name: string, match: Record<string, string> = {}) =>
      value(after, name, match) - value(before, name, match);
    expect(delta('sluice_generations_total', { ...labels, finish_reason: 'stop' })).toBe(3);
    expect(delta('sluice_requests_total', { route: '/api/v1/chat/stream', status: '200' })).toBe(3);
    expect(delta('sluice_output_tokens_total', labels)).toBeGreaterThan(3 * 10);
    expect(delta('sluice_input_tokens_total', labels)).toBeGreaterThan(0);
    expect(delta('sluice_upstream_attempts_total', { provider: 'openai', outcome: 'ok' })).toBe(3);
    const ttft = after.get('sluice_ttft_seconds')?.metrics.find((metric) => metric.buckets !== undefined);
    expect(Number(ttft?.buckets?.['+Inf'])).toBeGreaterThanOrEqual(3);
  });

  it('shows running generations and open streams, resumes and cancels', async () => {
    harness.emulator.enqueue('openai', { chunkDelayMs: 20, chunks: 100 });
    const live = await openLive(`${harness.url}/api/v1/chat/stream`, streamRequest(chatBody()));
    await live.waitForFrames(3);
    const id = live.headers.get('x-generation-id') ?? '';
    const resumed = await openLive(`${harness.url}/api/v1/chat/stream/${id}`);
    await resumed.waitForFrames(3);
    const during = await scrape();
    expect(value(during, 'sluice_active_generations')).toBe(1);
    expect(value(during, 'sluice_active_streams')).toBe(2);
    expect(value(during, 'sluice_resumes_total')).toBeGreaterThanOrEqual(1);
    const cancel = await fetch(`${harness.url}/api/v1/chat/stream/${id}/cancel`, { method: 'POST' });
    expect(cancel.status).toBe(200);
    await Promise.all([live.ended, resumed.ended]);
    await eventually(() => harness.gateway.store.running().length === 0, 2000, 'the cancel');
    const after = await scrape();
    expect(value(after, 'sluice_cancels_total')).toBe(1);
    expect(value(after, 'sluice_active_generations')).toBe(0);
    let open = value(after, 'sluice_active_streams');
    for (let attempt = 0; open !== 0 && attempt < 50; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      open = value(await scrape(), 'sluice_active_streams');
    }
    expect(open).toBe(0);
    expect(value(after, 'sluice_generations_total', { finish_reason: 'cancelled' })).toBe(1);
    expect(value(after, 'sluice_upstream_attempts_total', { outcome: 'cancelled' })).toBe(1);
  });

  it('counts stream errors by code, retries as attempts, and refusals by route and status', async () => {
    harness.emulator.enqueue(
      'openai',
      { fault: { type: 'http', status: 503 } },
      { fault: { type: 'midstream_error', afterChunks: 2, kind: 'overloaded' } },
    );
    const result = await postStream(harness.url, chatBody());
    expect(result.frames.find((frame) => frame.event === 'error')?.data.code).toBe('overloaded');
    expect((await fetch(`${harness.url}/nowhere`)).status).toBe(404);
    expect((await postStream(harness.url, { provider: 'nope', messages: [] })).status).toBe(400);
    await eventually(() => harness.gateway.store.running().length === 0, 2000, 'the generation to end');
    const families = await scrape();
    expect(value(families, 'sluice_stream_errors_total', { provider: 'openai', code: 'overloaded' })).toBe(1);
    expect(value(families, 'sluice_upstream_attempts_total', { outcome: 'retried' })).toBeGreaterThanOrEqual(
      1,
    );
    expect(value(families, 'sluice_upstream_attempts_total', { outcome: 'error' })).toBe(1);
    expect(value(families, 'sluice_requests_total', { route: 'unmatched', status: '404' })).toBe(1);
    expect(value(families, 'sluice_requests_total', { route: '/api/v1/chat/stream', status: '400' })).toBe(1);
  });
});
