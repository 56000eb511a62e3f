import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { openLive, streamRequest } from '../helpers/live.js';
import { chatBody, invariantViolation, parseSse, readResponse, textOf } from '../helpers/sse.js';

let harness: TestGateway;
beforeAll(async () => {
  harness = await startTestGateway({ resumeGraceMs: 300, keepAliveMs: 60 });
});
afterAll(() => harness.close());
beforeEach(() => harness.emulator.reset());

const slow = { chunkDelayMs: 40, chunks: 30 };

describe('cancel', () => {
  it('stops the upstream at once and ends with cancelled then done', async () => {
    harness.emulator.enqueue('openai', slow);
    const live = await openLive(`${harness.url}/api/v1/chat/stream`, streamRequest(chatBody()));
    await live.waitForFrames(4);
    const id = live.headers.get('x-generation-id');
    const cancel = await fetch(`${harness.url}/api/v1/chat/stream/${id}/cancel`, { method: 'POST' });
    expect(cancel.status).toBe(200);
    expect(await cancel.json()).toEqual({ cancelled: true });
    const raw = await live.ended;
    const { frames } = parseSse(raw);
    expect(frames.at(-2)?.event).toBe('cancelled');
    expect(frames.at(-1)?.data.finish_reason).toBe('cancelled');
    expect(raw.endsWith('data: [DONE]\n\n')).toBe(true);
    await eventually(() => harness.emulator.stats('openai').closedByClient === 1, 1000, 'upstream closed');
    const again = await fetch(`${harness.url}/api/v1/chat/stream/${id}/cancel`, { method: 'POST' });
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ cancelled: false });
  });
});

describe('resume', () => {
  it('replays what was missed after Last-Event-ID, then follows live, with nothing lost or repeated', async () => {
    harness.emulator.enqueue('openai', slow);
    const first = await openLive(`${harness.url}/api/v1/chat/stream`, streamRequest(chatBody()));
    await first.waitForFrames(6);
    first.cut();
    await first.ended;
    const seen = [...first.frames];
    const lastId = seen.at(-1)?.id ?? 0;
    const id = first.headers.get('x-generation-id');
    const resumed = await readResponse(
      await fetch(`${harness.url}/api/v1/chat/stream/${id}`, {
        headers: { 'last-event-id': String(lastId) },
      }),
    );
    expect(resumed.status).toBe(200);
    expect(resumed.frames[0]?.id).toBe(lastId + 1);
    const all = [...seen, ...resumed.frames];
    expect(all.map((frame) => frame.id)).toEqual(all.map((_, index) => index + 1));
    expect(all.at(-1)?.event).toBe('done');
    // The whole generation read again from the start equals what the two connections assembled.
    const whole = await readResponse(await fetch(`${harness.url}/api/v1/chat/stream/${id}`));
    expect(invariantViolation(whole)).toBeUndefined();
    expect(whole.frames).toEqual(all);
    expect(harness.emulator.stats('openai').requests).toBe(1);
  });

  it('accepts last_event_id as a query parameter and serves several readers at once', async () => {
    harness.emulator.enqueue('openai', slow);
    const first = await openLive(`${harness.url}/api/v1/chat/stream`, streamRequest(chatBody()));
    await first.waitForFrames(3);
    const id = first.headers.get('x-generation-id');
    const second = await openLive(`${harness.url}/api/v1/chat/stream/${id}?last_event_id=2`);
    const [firstRaw, secondRaw] = await Promise.all([first.ended, second.ended]);
    const a = parseSse(firstRaw).frames;
    const b = parseSse(secondRaw).frames;
    expect(b[0]?.id).toBe(3);
    expect(b).toEqual(a.slice(2));
  });

  it('refuses a malformed Last-Event-ID', async () => {
    const result = await readResponse(
      await fetch(`${harness.url}/api/v1/chat/stream/gen_x`, { headers: { 'last-event-id': 'abc' } }),
    );
    expect(result.status).toBe(400);
    const done = await readResponse(
      await fetch(`${harness.url}/api/v1/chat/stream`, { ...streamRequest(chatBody()) }),
    );
    const id = done.headers.get('x-generation-id');
    const bad = await readResponse(
      await fetch(`${harness.url}/api/v1/chat/stream/${id}`, { headers: { 'last-event-id': 'abc' } }),
    );
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('invalid_request');
  });
});

describe('client disconnect', () => {
  it('aborts the upstream after the grace period when nobody reads', async () => {
    harness.emulator.enqueue('openai', { chunkDelayMs: 50, chunks: 200 });
    const live = await openLive(`${harness.url}/api/v1/chat/stream`, streamRequest(chatBody()));
    await live.waitForFrames(3);
    const cutAt = Date.now();
    live.cut();
    await eventually(() => harness.emulator.stats('openai').closedByClient === 1, 3000, 'upstream aborted');
    const closedAt = harness.emulator.stats('openai').lastClientCloseAt ?? 0;
    // Grace is 300 ms here; the upstream must survive it, then go within a second of the deadline.
    expect(closedAt - cutAt).toBeGreaterThanOrEqual(250);
    expect(closedAt - cutAt).toBeLessThan(300 + 1000);
    const id = live.headers.get('x-generation-id');
    const result = await (await fetch(`${harness.url}/api/v1/generations/${id}`)).json();
    expect(result).toMatchObject({ status: 'done', finish_reason: 'cancelled' });
    expect(result.text.length).toBeGreaterThan(0);
  });

  it('keeps the upstream when the client resumes within the grace period', async () => {
    harness.emulator.enqueue('openai', slow);
    const live = await openLive(`${harness.url}/api/v1/chat/stream`, streamRequest(chatBody()));
    await live.waitForFrames(3);
    live.cut();
    await live.ended;
    await new Promise((resolve) => setTimeout(resolve, 100));
    const id = live.headers.get('x-generation-id');
    const rest = await readResponse(
      await fetch(`${harness.url}/api/v1/chat/stream/${id}`, {
        headers: { 'last-event-id': String(live.frames.at(-1)?.id) },
      }),
    );
    expect(rest.frames.at(-1)?.data.finish_reason).toBe('stop');
    expect(harness.emulator.stats('openai').closedByClient).toBe(0);
  });
});

describe('cancel_on_disconnect', () => {
  // A grace period long enough that only the request field can explain a prompt abort.
  let patient: TestGateway;
  beforeAll(async () => {
    patient = await startTestGateway({ resumeGraceMs: 10_000 });
  });
  afterAll(() => patient.close());
  beforeEach(() => patient.emulator.reset());

  it('aborts the upstream at once when the client goes away, with no grace period', async () => {
    patient.emulator.enqueue('openai', { chunkDelayMs: 50, chunks: 200 });
    const live = await openLive(
      `${patient.url}/api/v1/chat/stream`,
      streamRequest(chatBody('openai', { cancel_on_disconnect: true })),
    );
    await live.waitForFrames(3);
    const cutAt = Date.now();
    live.cut();
    await eventually(() => patient.emulator.stats('openai').closedByClient === 1, 2000, 'upstream aborted');
    const closedAt = patient.emulator.stats('openai').lastClientCloseAt ?? 0;
    expect(closedAt - cutAt).toBeLessThan(1000);
    const id = live.headers.get('x-generation-id') ?? '';
    await eventually(() => patient.gateway.store.running().length === 0, 2000, 'the generation to end');
    const result = await (await fetch(`${patient.url}/api/v1/generations/${id}`)).json();
    expect(result).toMatchObject({ status: 'done', finish_reason: 'cancelled' });
  });

  it('still waits for a first reader of a generation started without one', async () => {
    patient.emulator.enqueue('openai', { chunkDelayMs: 20, chunks: 10 });
    const created = await fetch(
      `${patient.url}/api/v1/generations`,
      streamRequest(chatBody('openai', { cancel_on_disconnect: true })),
    );
    const { stream_url: streamUrl } = (await created.json()) as { stream_url: string };
    await new Promise((resolve) => setTimeout(resolve, 100));
    const stream = await readResponse(await fetch(`${patient.url}${streamUrl}`));
    expect(stream.frames.at(-1)?.data.finish_reason).toBe('stop');
    expect(patient.emulator.stats('openai').closedByClient).toBe(0);
  });
});

describe('bursts', () => {
  it('never drops a reader that keeps reading, however fast the upstream bursts', async () => {
    harness.emulator.enqueue('openai', { chunkDelayMs: 0, chunks: 20_000 });
    const result = await readResponse(
      await fetch(`${harness.url}/api/v1/chat/stream`, streamRequest(chatBody())),
    );
    expect(invariantViolation(result)).toBeUndefined();
    expect(result.frames.filter((frame) => frame.event === 'chunk')).toHaveLength(20_000);
  });
});

describe('keep-alive', () => {
  it('sends ": ping" comments while the upstream is silent', async () => {
    harness.emulator.enqueue('openai', { ttftMs: 400 });
    const live = await openLive(`${harness.url}/api/v1/chat/stream`, streamRequest(chatBody()));
    await live.waitForComment(2000);
    expect(live.comments[0]).toBe('ping');
    await live.ended;
  });
});

describe('POST /api/v1/generations and the result endpoint', () => {
  it('starts without streaming, then a reader attaches and the result accumulates', async () => {
    const created = await fetch(`${harness.url}/api/v1/generations`, streamRequest(chatBody()));
    expect(created.status).toBe(201);
    const body = (await created.json()) as { generation_id: string; stream_url: string };
    expect(body.stream_url).toBe(`/api/v1/chat/stream/${body.generation_id}`);
    const stream = await readResponse(await fetch(`${harness.url}${body.stream_url}`));
    expect(invariantViolation(stream)).toBeUndefined();
    const result = await (await fetch(`${harness.url}/api/v1/generations/${body.generation_id}`)).json();
    expect(result).toMatchObject({
      generation_id: body.generation_id,
      status: 'done',
      provider: 'openai',
      model: 'gpt-4o-mini',
      finish_reason: 'stop',
      error: null,
      tool_calls: [],
    });
    expect(result.text).toBe(textOf(stream.frames));
    expect(result.usage.output_tokens).toBeGreaterThan(0);
  });

  it('keeps the partial text when a stream fails', async () => {
    harness.emulator.enqueue('openai', { fault: { type: 'reset', afterChunks: 4 } });
    const stream = await readResponse(
      await fetch(`${harness.url}/api/v1/chat/stream`, streamRequest(chatBody())),
    );
    const id = stream.headers.get('x-generation-id');
    const result = await (await fetch(`${harness.url}/api/v1/generations/${id}`)).json();
    expect(result.finish_reason).toBe('error');
    expect(result.error).toMatchObject({ code: 'upstream_disconnected', partial: true });
    expect(result.text).toBe(textOf(stream.frames));
    expect(result.text.length).toBeGreaterThan(0);
  });
});
