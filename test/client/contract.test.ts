import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  API_PATHS,
  type CancelBody,
  type CreatedGenerationBody,
  type ErrorBody,
  FRAME_EVENTS,
  GENERATION_ID_HEADER,
  type GenerationResult,
  type HealthBody,
  type ProviderHealth,
  STREAM_END_DATA,
  STREAM_HEADERS,
} from '../../src/protocol/http.js';
import type { Gateway } from '../../src/server/gateway.js';
import { emulatorOf, startDemoGateway } from './helpers.js';

/**
 * The HTTP contract module (src/protocol/http.ts) against what a real gateway sends: routes,
 * stream headers, event names and every JSON body's fields, so the gateway and the client can
 * both be built on it without either side's behaviour changing.
 */

/** The declared (not index-signature) keys of a body type. */
type DeclaredKey<T> = keyof { [K in keyof T as string extends K ? never : K]: T[K] };

/** Every declared key of `T`, sorted; the record literal must name each one and nothing else. */
function keysOf<T>(record: Record<DeclaredKey<T>, true>): string[] {
  return Object.keys(record).sort();
}

const HEALTH_KEYS = keysOf<HealthBody>({
  status: true,
  version: true,
  demo: true,
  auth: true,
  providers: true,
  active_streams: true,
  stored_generations: true,
  pid: true,
});
const PROVIDER_KEYS = keysOf<ProviderHealth>({
  configured: true,
  emulated: true,
  default_model: true,
  models: true,
  capabilities: true,
  runtime: true,
});
const RESULT_KEYS = keysOf<GenerationResult>({
  generation_id: true,
  status: true,
  provider: true,
  model: true,
  emulated: true,
  text: true,
  thinking: true,
  tool_calls: true,
  finish_reason: true,
  usage: true,
  stats: true,
  error: true,
  served_by: true,
  reasoning_state: true,
});
const CREATED_KEYS = keysOf<CreatedGenerationBody>({ generation_id: true, stream_url: true });
const REFUSED_CANCEL_KEYS = keysOf<Extract<CancelBody, { cancelled: false }>>({
  cancelled: true,
  reason: true,
});
const ERROR_KEYS = keysOf<ErrorBody['error']>({ code: true, message: true, field: true });

const body = JSON.stringify({ provider: 'openai', messages: [{ role: 'user', content: 'Hello' }] });
const json = { 'content-type': 'application/json' };

describe('the HTTP contract module matches the gateway', () => {
  let gateway: Gateway;
  const url = (path: string): string => gateway.url + path;

  beforeAll(async () => {
    gateway = await startDemoGateway();
  });
  afterAll(() => gateway.close(1000));
  beforeEach(() => {
    emulatorOf(gateway).reset();
    emulatorOf(gateway).setDefaults({ ttftMs: 5, chunkDelayMs: 2 });
  });

  it('streams with the stream headers, known event names and the end marker', async () => {
    const response = await fetch(url(API_PATHS.stream), { method: 'POST', headers: json, body });
    expect(response.status).toBe(200);
    for (const [name, value] of Object.entries(STREAM_HEADERS)) {
      expect(response.headers.get(name), name).toBe(value);
    }
    const generationId = response.headers.get(GENERATION_ID_HEADER);
    expect(generationId).toMatch(/^gen_/);
    const text = await response.text();
    const events = [...text.matchAll(/^event: (.+)$/gm)].map((match) => match[1]);
    expect(events[0]).toBe('start');
    expect(events.at(-1)).toBe('done');
    for (const event of events) expect(FRAME_EVENTS).toContain(event);
    expect(text.endsWith(`data: ${STREAM_END_DATA}\n\n`)).toBe(true);

    // A resume of the same generation carries the same headers.
    const resumed = await fetch(url(API_PATHS.resume(generationId ?? '')), {
      headers: { 'last-event-id': '1' },
    });
    for (const [name, value] of Object.entries(STREAM_HEADERS)) {
      expect(resumed.headers.get(name), name).toBe(value);
    }
    expect(resumed.headers.get(GENERATION_ID_HEADER)).toBe(generationId);
    await resumed.body?.cancel();
  });

  it('answers health with the declared fields', async () => {
    const response = await fetch(url(API_PATHS.health));
    expect(response.status).toBe(200);
    const health = (await response.json()) as HealthBody;
    expect(Object.keys(health).sort()).toEqual(HEALTH_KEYS);
    expect(health.status).toBe('ok');
    for (const [id, provider] of Object.entries(health.providers)) {
      // Only a provider that runs in process reports its runtime.
      const expected = id === 'local' ? PROVIDER_KEYS : PROVIDER_KEYS.filter((key) => key !== 'runtime');
      expect(Object.keys(provider).sort()).toEqual(expected);
    }
  });

  it('starts, reads and cancels a generation with the declared bodies', async () => {
    emulatorOf(gateway).enqueue('openai', { chunks: 200, chunkDelayMs: 20 });
    const response = await fetch(url(API_PATHS.generations), { method: 'POST', headers: json, body });
    expect(response.status).toBe(201);
    const created = (await response.json()) as CreatedGenerationBody;
    expect(Object.keys(created).sort()).toEqual(CREATED_KEYS);
    expect(created.stream_url).toBe(API_PATHS.resume(created.generation_id));

    const running = (await (
      await fetch(url(API_PATHS.generation(created.generation_id)))
    ).json()) as GenerationResult;
    expect(Object.keys(running).sort()).toEqual(RESULT_KEYS);
    expect(running.status).toBe('running');

    const cancelled = await fetch(url(API_PATHS.cancel(created.generation_id)), { method: 'POST' });
    expect(cancelled.status).toBe(200);
    expect(await cancelled.json()).toEqual({ cancelled: true } satisfies CancelBody);

    // Once the run has written its last frames, a second cancel is refused with a reason.
    await (await fetch(url(API_PATHS.resume(created.generation_id)))).text();
    const again = await fetch(url(API_PATHS.cancel(created.generation_id)), { method: 'POST' });
    expect(again.status).toBe(409);
    const refused = (await again.json()) as CancelBody;
    expect(Object.keys(refused).sort()).toEqual(REFUSED_CANCEL_KEYS);
    expect(refused.cancelled).toBe(false);

    const done = (await (
      await fetch(url(API_PATHS.generation(created.generation_id)))
    ).json()) as GenerationResult;
    expect(Object.keys(done).sort()).toEqual(RESULT_KEYS);
    expect(done).toMatchObject({ status: 'done', finish_reason: 'cancelled' });
  });

  it('refuses with the error body, with and without a field', async () => {
    const invalid = await fetch(url(API_PATHS.stream), {
      method: 'POST',
      headers: json,
      body: JSON.stringify({
        provider: 'openai',
        messages: [{ role: 'user', content: 'x' }],
        temperature: 9,
      }),
    });
    expect(invalid.status).toBe(400);
    const withField = (await invalid.json()) as ErrorBody;
    expect(Object.keys(withField)).toEqual(['error']);
    expect(Object.keys(withField.error).sort()).toEqual(ERROR_KEYS);
    expect(withField.error).toMatchObject({ code: 'invalid_request', field: 'temperature' });

    const unknown = await fetch(url(API_PATHS.generation('gen_unknown')));
    expect(unknown.status).toBe(404);
    const withoutField = (await unknown.json()) as ErrorBody;
    expect(Object.keys(withoutField.error).sort()).toEqual(ERROR_KEYS.filter((key) => key !== 'field'));
    expect(withoutField.error.code).toBe('not_found');
  });
});
