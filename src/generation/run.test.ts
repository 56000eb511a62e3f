import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseChatRequest } from '../protocol/request.js';
import { openai } from '../providers/openai/index.js';
import type { ProviderDefinition } from '../providers/types.js';
import { Transport } from '../upstream/transport.js';
import { Generation } from './generation.js';
import { runGeneration } from './run.js';

/** An upstream on loopback that answers every request with a short, valid OpenAI stream. */
let upstream: Server;
let upstreamUrl = '';
const transport = new Transport({ connectTimeoutMs: 1000 });

beforeAll(async () => {
  upstream = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    response.end(
      'data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}\n\n' +
        'data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n',
    );
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
});

afterAll(async () => {
  await transport.close();
  await new Promise((resolve) => upstream.close(resolve));
});

async function run(provider: ProviderDefinition): Promise<Generation> {
  const parsed = parseChatRequest({ provider: 'openai', messages: [{ role: 'user', content: 'hi' }] });
  if (!parsed.ok) throw new Error(parsed.issue.message);
  const generation = new Generation({
    id: 'gen_test',
    provider: 'openai',
    model: 'gpt-4o-mini',
    emulated: false,
    maxLogBytes: 1 << 20,
    graceMs: 0,
  });
  await runGeneration({
    generation,
    provider,
    model: 'gpt-4o-mini',
    request: parsed.request,
    providerSettings: { apiKey: 'k', baseUrl: upstreamUrl },
    transport,
    idleTimeoutMs: 2000,
    maxRetries: 2,
    retryBaseMs: 1,
    receivedAt: performance.now(),
  });
  return generation;
}

function events(generation: Generation): string[] {
  return generation.log.all().map((frame) => frame.event);
}

describe('a generation whose run throws still ends, exactly once', () => {
  it('ends with an internal error and done when the request mapping throws', async () => {
    const generation = await run({
      ...openai,
      buildRequest() {
        throw new RangeError('Maximum call stack size exceeded');
      },
    });
    expect(generation.running).toBe(false);
    expect(events(generation)).toEqual(['start', 'error', 'done']);
    const error = generation.log.frame(2);
    expect(error.event === 'error' && error.data).toMatchObject({ code: 'internal', retryable: false });
    expect(JSON.stringify(error.data)).not.toContain('Maximum call stack');
  });

  it('ends with an internal error and done when the codec throws on upstream data', async () => {
    const generation = await run({
      ...openai,
      createCodec() {
        return {
          push() {
            throw new TypeError('codec bug');
          },
          end: () => [],
        };
      },
    });
    expect(events(generation)).toEqual(['start', 'error', 'done']);
    expect(generation.result()).toMatchObject({ status: 'done', finish_reason: 'error' });
  });

  it('ends with an internal error and done when the HTTP error mapping throws', async () => {
    const failing = createServer((_request, response) => {
      response.writeHead(500);
      response.end('{}');
    });
    await new Promise<void>((resolve) => failing.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(failing.address() as AddressInfo).port}/v1`;
    try {
      const generation = await run({
        ...openai,
        buildRequest: (request, model, settings) =>
          openai.buildRequest(request, model, { ...settings, baseUrl: url }),
        mapHttpError() {
          throw new Error('mapping bug');
        },
      });
      expect(events(generation)).toEqual(['start', 'error', 'done']);
    } finally {
      await new Promise((resolve) => failing.close(resolve));
    }
  });
});
