import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { chatBody, invariantViolation, postStream, textOf } from '../helpers/sse.js';

let harness: TestGateway;
beforeAll(async () => {
  harness = await startTestGateway();
});
afterAll(() => harness.close());
beforeEach(() => harness.emulator.reset());

describe('POST /api/v1/chat/stream (OpenAI through the emulator)', () => {
  it('streams frames in contract order with headers, ids 1..n and a final [DONE]', async () => {
    harness.emulator.enqueue('openai', { text: 'Hello there,\nworld \u2028 and "quotes".' });
    const result = await postStream(harness.url, chatBody('openai', { model: 'gpt-4o' }));
    expect(result.status).toBe(200);
    expect(result.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(result.headers.get('cache-control')).toBe('no-cache');
    expect(result.headers.get('x-accel-buffering')).toBe('no');
    expect(invariantViolation(result)).toBeUndefined();
    expect(result.raw.startsWith('retry: ')).toBe(true);
    expect(result.retry).toBeGreaterThan(0);

    const [start, metadata] = result.frames;
    expect(start?.event).toBe('start');
    expect(start?.data.generation_id).toBe(result.headers.get('x-generation-id'));
    expect(start?.data.emulated).toBe(true);
    expect(typeof start?.data.created).toBe('number');
    expect(metadata?.event).toBe('metadata');
    expect(metadata?.data.upstream_model).toBe('gpt-4o');
    expect(metadata?.data.upstream_id).toMatch(/^chatcmpl-/);
    for (const frame of result.frames) {
      expect(frame.data.provider).toBe('openai');
      expect(frame.data.model).toBe('gpt-4o');
    }
    expect(textOf(result.frames)).toBe('Hello there,\nworld \u2028 and "quotes".');
    for (const chunk of result.frames.filter((frame) => frame.event === 'chunk')) {
      expect(chunk.data.finish_reason).toBeNull();
      expect(chunk.data.usage).toBeNull();
    }
    const done = result.frames.at(-1)?.data;
    expect(done.finish_reason).toBe('stop');
    expect(done.usage).toMatchObject({ estimated: false });
    expect(done.usage.input_tokens).toBeGreaterThan(0);
    expect(done.usage.output_tokens).toBeGreaterThan(0);
    expect(done.usage.total_tokens).toBe(done.usage.input_tokens + done.usage.output_tokens);
    expect(done.stats.attempts).toBe(1);
    expect(done.stats.ttft_ms).toBeGreaterThanOrEqual(0);
    expect(done.stats.duration_ms).toBeGreaterThanOrEqual(done.stats.ttft_ms);
  });

  it('uses the provider default model when none is given', async () => {
    const result = await postStream(harness.url, chatBody('openai'));
    expect(result.frames[0]?.data.model).toBe('gpt-4o-mini');
    expect(invariantViolation(result)).toBeUndefined();
  });

  it('maps the request onto the Chat Completions body', async () => {
    await postStream(harness.url, {
      provider: 'openai',
      model: 'gpt-4o',
      temperature: 0.3,
      max_tokens: 55,
      messages: [
        { role: 'system', content: 'Be terse.' },
        { role: 'user', content: 'Weather?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '{"temp": 20}' },
      ],
    });
    const body = harness.emulator.stats('openai').bodies.at(-1) as Record<string, unknown>;
    expect(body).toMatchObject({
      model: 'gpt-4o',
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.3,
      max_completion_tokens: 55,
    });
    expect(body.messages).toEqual([
      { role: 'system', content: 'Be terse.' },
      { role: 'user', content: 'Weather?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{}' } }],
      },
      { role: 'tool', content: '{"temp": 20}', tool_call_id: 'call_1' },
    ]);
    const headers = harness.emulator.stats('openai').headers.at(-1);
    expect(headers?.authorization).toBe('Bearer sluice-demo');
  });

  it('streams a tool call: tool_call_start, then the complete tool_call, then finish tool_calls', async () => {
    const result = await postStream(
      harness.url,
      chatBody('openai', {
        tools: [
          {
            type: 'function',
            function: {
              name: 'get_weather',
              description: 'Weather for a city',
              parameters: {
                type: 'object',
                properties: { location: { type: 'string' }, days: { type: 'integer' } },
              },
            },
          },
        ],
      }),
    );
    expect(invariantViolation(result)).toBeUndefined();
    const events = result.frames.map((frame) => frame.event);
    expect(events.indexOf('tool_call_start')).toBeLessThan(events.indexOf('tool_call'));
    const start = result.frames.find((frame) => frame.event === 'tool_call_start')?.data;
    const call = result.frames.find((frame) => frame.event === 'tool_call')?.data;
    expect(start).toMatchObject({ index: 0, name: 'get_weather' });
    expect(call.id).toBe(start.id);
    expect(JSON.parse(call.arguments)).toEqual({ location: 'Paris', days: 1 });
    expect(result.frames.at(-1)?.data.finish_reason).toBe('tool_calls');
  });

  it('reports length when the upstream stops at max tokens', async () => {
    harness.emulator.enqueue('openai', { finish: 'length' });
    const result = await postStream(harness.url, chatBody('openai', { max_tokens: 5 }));
    expect(result.frames.at(-1)?.data.finish_reason).toBe('length');
    expect(invariantViolation(result)).toBeUndefined();
  });

  it('answers the health check with providers and active streams', async () => {
    const response = await fetch(`${harness.url}/api/v1/chat/stream/health`);
    expect(response.status).toBe(200);
    // biome-ignore lint/suspicious/noExplicitAny: the test reads arbitrary JSON
    const body = (await response.json()) as Record<string, any>;
    expect(body.status).toBe('ok');
    expect(body.providers.openai).toMatchObject({
      configured: true,
      emulated: true,
      default_model: 'gpt-4o-mini',
    });
    expect(typeof body.active_streams).toBe('number');
  });

  it('answers a preflight without CORS headers unless origins are configured (v2)', async () => {
    // Configured origins are covered in test/hardening/origin.test.ts.
    const preflight = await fetch(`${harness.url}/api/v1/chat/stream`, {
      method: 'OPTIONS',
      headers: { origin: 'http://example.test', 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    const result = await postStream(harness.url, chatBody(), { headers: { origin: 'http://example.test' } });
    expect(result.headers.get('access-control-allow-origin')).toBeNull();
  });
});
