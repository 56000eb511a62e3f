import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { nativeView } from '../helpers/native.js';
import { readResponse } from '../helpers/sse.js';

/**
 * Generations started through the OpenAI-compatible API and the UI stream are ordinary ones:
 * their id is in `X-Generation-Id`, they can be read natively, cancelled and read as results,
 * and a client that goes away is given the same grace period as on the native endpoint.
 */

let harness: TestGateway;
let client: OpenAI;
beforeAll(async () => {
  harness = await startTestGateway({ resumeGraceMs: 300, keepAliveMs: 60 });
  client = new OpenAI({ baseURL: `${harness.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
afterAll(() => harness.close());
beforeEach(() => harness.emulator.reset());

const slow = { chunkDelayMs: 40, chunks: 30 };
const completionsBody = (extra: Record<string, unknown> = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({
    model: 'openai',
    messages: [{ role: 'user', content: 'Hi' }],
    stream: true,
    ...extra,
  }),
});

describe('an OpenAI-compatible generation', () => {
  it('is resumed natively and read as a result while the SDK streams it', async () => {
    harness.emulator.enqueue('openai', slow);
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'openai', messages: [{ role: 'user', content: 'Hi' }], stream: true })
      .withResponse();
    const id = response.headers.get('x-generation-id');
    let text = '';
    let resumed: Promise<Response> | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      // A native reader joins halfway, from frame 3.
      resumed ??= fetch(`${harness.url}/api/v1/chat/stream/${id}`, { headers: { 'last-event-id': '2' } });
    }
    const rest = await readResponse(await (resumed as Promise<Response>));
    expect(rest.frames[0]?.id).toBe(3);
    const result = await (await fetch(`${harness.url}/api/v1/generations/${id}`)).json();
    expect(result).toMatchObject({ status: 'done', finish_reason: 'stop', text });
  });

  it('is cancelled by id: the SDK raises an APIError, the stream ends without [DONE]', async () => {
    harness.emulator.enqueue('openai', slow);
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'openai', messages: [{ role: 'user', content: 'Hi' }], stream: true })
      .withResponse();
    const id = response.headers.get('x-generation-id');
    let chunks = 0;
    const error = await (async () => {
      for await (const _chunk of stream) {
        chunks++;
        if (chunks === 3) await fetch(`${harness.url}/api/v1/chat/stream/${id}/cancel`, { method: 'POST' });
      }
    })().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(APIError);
    expect(error).toMatchObject({ code: 'cancelled' });
    expect((await nativeView(harness.url, id)).finishReason).toBe('cancelled');
  });

  it('answers a cancel before the first token with 409 cancelled (stream: false)', async () => {
    harness.emulator.enqueue('openai', { ttftMs: 400 });
    const pending = client.chat.completions
      .create({ model: 'openai', messages: [{ role: 'user', content: 'Hi' }] })
      .withResponse()
      .catch((caught: unknown) => caught);
    await eventually(() => harness.gateway.store.running().length === 1, 2000, 'the generation');
    const id = harness.gateway.store.running()[0]?.id;
    await fetch(`${harness.url}/api/v1/chat/stream/${id}/cancel`, { method: 'POST' });
    const error = await pending;
    expect(error).toBeInstanceOf(APIError);
    expect(error).toMatchObject({ status: 409, code: 'cancelled' });
  });

  it('outlives a client that leaves mid-stream by the grace period, then stops the upstream', async () => {
    harness.emulator.enqueue('openai', { chunkDelayMs: 50, chunks: 200 });
    const controller = new AbortController();
    const response = await fetch(`${harness.url}/v1/chat/completions`, {
      ...completionsBody(),
      signal: controller.signal,
    });
    const reader = response.body?.getReader();
    await reader?.read();
    const cutAt = Date.now();
    controller.abort();
    await eventually(() => harness.emulator.stats('openai').closedByClient === 1, 3000, 'upstream aborted');
    const closedAt = harness.emulator.stats('openai').lastClientCloseAt ?? 0;
    expect(closedAt - cutAt).toBeGreaterThanOrEqual(250);
    expect(closedAt - cutAt).toBeLessThan(300 + 1000);
    const result = await (
      await fetch(`${harness.url}/api/v1/generations/${response.headers.get('x-generation-id')}`)
    ).json();
    expect(result).toMatchObject({ status: 'done', finish_reason: 'cancelled' });
  });

  it('keeps the upstream for a client that leaves before the first token and comes back natively', async () => {
    harness.emulator.enqueue('openai', { ttftMs: 200, ...slow });
    const controller = new AbortController();
    const pending = fetch(`${harness.url}/v1/chat/completions`, {
      ...completionsBody(),
      signal: controller.signal,
    }).catch(() => undefined);
    await eventually(() => harness.gateway.store.running().length === 1, 2000, 'the generation');
    const id = harness.gateway.store.running()[0]?.id;
    controller.abort();
    await pending;
    await new Promise((resolve) => setTimeout(resolve, 100));
    const native = await nativeView(harness.url, id);
    expect(native.finishReason).toBe('stop');
    expect(harness.emulator.stats('openai').closedByClient).toBe(0);
  });
});

describe('a UI stream generation', () => {
  it('carries X-Generation-Id and is read as a result', async () => {
    const response = await fetch(`${harness.url}/api/v1/chat/ui`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        provider: 'gemini',
        messages: [{ id: 'u', role: 'user', parts: [{ type: 'text', text: 'Hi' }] }],
      }),
    });
    await response.text();
    const id = response.headers.get('x-generation-id');
    const result = await (await fetch(`${harness.url}/api/v1/generations/${id}`)).json();
    expect(result).toMatchObject({ status: 'done', provider: 'gemini', finish_reason: 'stop' });
  });
});
