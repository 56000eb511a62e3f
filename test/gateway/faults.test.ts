import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Scenario } from '../../src/emulators/types.js';
import { HTTP_PROVIDERS } from '../../src/providers/registry.js';
import { type Gateway, startGateway } from '../../src/server/gateway.js';
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { captureLogs } from '../helpers/log-capture.js';
import { chatBody, invariantViolation, postStream, type StreamResult, textOf } from '../helpers/sse.js';

let harness: TestGateway;
beforeAll(async () => {
  harness = await startTestGateway({ idleTimeoutMs: 300, maxRetries: 2, retryBaseMs: 5 });
});
afterAll(() => harness.close());
beforeEach(() => harness.emulator.reset());

interface FaultCase {
  name: string;
  scenarios: Scenario[];
  /** Providers this fault applies to (default: all). */
  only?: string[];
  expect: {
    code?: string;
    finish: string;
    attempts: number;
    partial?: boolean;
    /** Upstream requests the emulator saw. */
    requests: number;
  };
}

const FAULTS: FaultCase[] = [
  {
    name: '401 is not retried',
    scenarios: [{ fault: { type: 'http', status: 401 } }],
    expect: { code: 'provider_auth', finish: 'error', attempts: 1, requests: 1 },
  },
  {
    name: '400 is not retried',
    scenarios: [{ fault: { type: 'http', status: 400 } }],
    expect: { code: 'bad_request', finish: 'error', attempts: 1, requests: 1 },
  },
  {
    name: '429 with Retry-After is retried and recovers',
    scenarios: [{ fault: { type: 'http', status: 429, retryAfter: '0' } }],
    expect: { finish: 'stop', attempts: 2, requests: 2 },
  },
  {
    name: '500 then 503 then success',
    scenarios: [{ fault: { type: 'http', status: 500 } }, { fault: { type: 'http', status: 503 } }],
    expect: { finish: 'stop', attempts: 3, requests: 3 },
  },
  {
    name: '500 on every attempt ends with upstream_error after 3 attempts',
    scenarios: [
      { fault: { type: 'http', status: 500 } },
      { fault: { type: 'http', status: 500 } },
      { fault: { type: 'http', status: 500 } },
    ],
    expect: { code: 'upstream_error', finish: 'error', attempts: 3, requests: 3, partial: false },
  },
  {
    name: 'Anthropic 529 is retried',
    only: ['anthropic'],
    scenarios: [{ fault: { type: 'http', status: 529 } }],
    expect: { finish: 'stop', attempts: 2, requests: 2 },
  },
  {
    name: 'a reset before the first token is retried',
    scenarios: [{ fault: { type: 'reset', afterChunks: 0 } }],
    expect: { finish: 'stop', attempts: 2, requests: 2 },
  },
  {
    name: 'a reset after tokens is an error, never a retry',
    scenarios: [{ fault: { type: 'reset', afterChunks: 3 } }],
    expect: { code: 'upstream_disconnected', finish: 'error', attempts: 1, requests: 1, partial: true },
  },
  {
    name: 'a stall after tokens times out',
    scenarios: [{ fault: { type: 'stall', afterChunks: 2 } }],
    expect: { code: 'timeout', finish: 'error', attempts: 1, requests: 1, partial: true },
  },
  {
    name: 'a slow first token past the idle timeout is retried',
    scenarios: [{ ttftMs: 1500 }],
    expect: { finish: 'stop', attempts: 2, requests: 2 },
  },
  {
    name: 'malformed data after tokens is an error',
    scenarios: [{ fault: { type: 'malformed', afterChunks: 2 } }],
    expect: { code: 'upstream_error', finish: 'error', attempts: 1, requests: 1, partial: true },
  },
  {
    name: 'a mid-stream provider error after tokens',
    scenarios: [{ fault: { type: 'midstream_error', afterChunks: 2, kind: 'overloaded' } }],
    expect: { finish: 'error', attempts: 1, requests: 1, partial: true },
  },
  {
    name: "Together's in-stream capacity error object is an overloaded error, never text",
    only: ['together'],
    scenarios: [{ fault: { type: 'midstream_error', afterChunks: 2, kind: 'capacity' } }],
    expect: { code: 'overloaded', finish: 'error', attempts: 1, requests: 1, partial: true },
  },
  {
    name: "Anthropic's mid-stream overloaded_error event",
    only: ['anthropic'],
    scenarios: [{ fault: { type: 'midstream_error', afterChunks: 2, kind: 'overloaded' } }],
    expect: { code: 'overloaded', finish: 'error', attempts: 1, requests: 1, partial: true },
  },
  {
    name: 'a mid-stream provider error before tokens is retried',
    scenarios: [{ fault: { type: 'midstream_error', afterChunks: 0, kind: 'overloaded' } }],
    expect: { finish: 'stop', attempts: 2, requests: 2 },
  },
  {
    name: 'an end without a finish reason is incomplete',
    scenarios: [{ fault: { type: 'no_finish', afterChunks: 3 } }],
    expect: { code: 'incomplete', finish: 'error', attempts: 1, requests: 1, partial: true },
  },
  {
    name: 'a content filter stop',
    // Together and Ollama have no moderation stop in their wire formats.
    only: ['openai', 'anthropic', 'gemini'],
    scenarios: [{ fault: { type: 'content_filter', afterChunks: 2 } }],
    expect: { code: 'content_filter', finish: 'content_filter', attempts: 1, requests: 1, partial: true },
  },
];

/** Reasoning off, so that the faults' chunk counts fall in the answer itself. */
const answerOnly = (provider: string) => chatBody(provider, { thinking_budget: 0 });

async function run(provider: string, scenarios: Scenario[]): Promise<StreamResult> {
  harness.emulator.enqueue(provider, ...scenarios);
  return postStream(harness.url, answerOnly(provider));
}

for (const provider of HTTP_PROVIDERS.map((entry) => entry.id)) {
  describe(`faults through the gateway: ${provider}`, () => {
    for (const fault of FAULTS) {
      if (fault.only && !fault.only.includes(provider)) continue;
      it(fault.name, async () => {
        const result = await run(provider, fault.scenarios);
        expect(result.status).toBe(200);
        expect(invariantViolation(result)).toBeUndefined();
        const done = result.frames.at(-1)?.data;
        expect(done.finish_reason).toBe(fault.expect.finish);
        expect(done.stats.attempts).toBe(fault.expect.attempts);
        expect(harness.emulator.stats(provider).requests).toBe(fault.expect.requests);
        const errors = result.frames.filter((frame) => frame.event === 'error');
        if (fault.expect.code !== undefined) {
          expect(errors).toHaveLength(1);
          expect(errors[0]?.data.code).toBe(fault.expect.code);
          expect(result.frames.at(-2)?.event).toBe('error');
        }
        if (fault.expect.finish === 'error') expect(errors).toHaveLength(1);
        if (fault.expect.finish === 'stop') expect(errors).toHaveLength(0);
        if (fault.expect.partial !== undefined) expect(errors[0]?.data.partial).toBe(fault.expect.partial);
        // No duplicated text: a retried stream carries exactly one answer.
        if (fault.expect.finish === 'stop') {
          const text = textOf(result.frames);
          const clean = await postStream(harness.url, answerOnly(provider));
          expect(text).toBe(textOf(clean.frames));
        }
      });
    }

    it('a stalled upstream socket is closed by the gateway', async () => {
      harness.emulator.enqueue(provider, { fault: { type: 'stall', afterChunks: 1 } });
      const result = await postStream(harness.url, chatBody(provider));
      expect(result.frames.find((frame) => frame.event === 'error')?.data.code).toBe('timeout');
      await eventually(() => harness.emulator.stats(provider).active === 0, 2000, 'upstream socket closed');
      expect(harness.emulator.stats(provider).closedByClient).toBe(1);
    });
  });
}

describe('retry policy edges', () => {
  it('gives up at once when Retry-After is above the 60 s cap', async () => {
    harness.emulator.enqueue('openai', { fault: { type: 'http', status: 429, retryAfter: '3600' } });
    const result = await postStream(harness.url, chatBody('openai'));
    expect(result.frames.find((frame) => frame.event === 'error')?.data).toMatchObject({
      code: 'rate_limited',
      retryable: true,
    });
    expect(harness.emulator.stats('openai').requests).toBe(1);
  });

  it('an error after reasoning but before any answer is not partial', async () => {
    harness.emulator.enqueue('anthropic', { fault: { type: 'reset', afterChunks: 3 } });
    const result = await postStream(
      harness.url,
      chatBody('anthropic', { thinking_budget: 2048, max_tokens: 4096 }),
    );
    expect(result.frames.some((frame) => frame.event === 'thinking')).toBe(true);
    expect(result.frames.find((frame) => frame.event === 'error')?.data).toMatchObject({
      code: 'upstream_disconnected',
      partial: false,
    });
    // Reasoning went out, so the stream is not retried: a retry would repeat it.
    expect(harness.emulator.stats('anthropic').requests).toBe(1);
  });
});

describe('the API key never leaves the gateway', () => {
  /** Shaped like no known key, so that only redaction by value can hide it. */
  const KEY = 'canary-key-7f3a9c2e51d04b8b';
  let upstream: Server;
  let gateway: Gateway;
  const keysReceived: string[] = [];
  const logs = captureLogs();

  beforeAll(async () => {
    // An upstream whose 401 names the key it was sent, as OpenAI's does (masked, docs/wire.md
    // §1.7), and also in full, as a careless proxy might.
    upstream = createServer((request, response) => {
      const key = (request.headers.authorization ?? '').replace(/^Bearer /, '');
      keysReceived.push(key);
      request.resume();
      const masked = `${key.slice(0, 3)}${'*'.repeat(Math.max(0, key.length - 7))}${key.slice(-4)}`;
      response.writeHead(401, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          error: {
            message: `Incorrect API key provided: ${masked}. The key sent was ${key}.`,
            type: 'invalid_request_error',
            param: null,
            code: 'invalid_api_key',
          },
        }),
      );
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const { port } = upstream.address() as AddressInfo;
    gateway = await startGateway({
      env: { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1` },
      settings: { port: 0, host: '127.0.0.1', maxRetries: 0, shutdownGraceMs: 200 },
      webRoot: null,
      logger: logs.logger,
    });
  });
  afterAll(async () => {
    await gateway?.close(200);
    await new Promise((resolve) => upstream?.close(resolve));
  });

  it("keeps a key echoed in the provider's 401 out of the stream, the error frame, the result and the log", async () => {
    const result = await postStream(gateway.url, chatBody('openai'));
    // The upstream did get the key and did echo it: without redaction it would be in the frame.
    expect(keysReceived).toEqual([KEY]);
    expect(invariantViolation(result)).toBeUndefined();
    expect(result.raw).not.toContain(KEY);
    const error = result.frames.find((frame) => frame.event === 'error')?.data;
    expect(error).toMatchObject({ code: 'provider_auth', retryable: false });
    expect(error.message).toBe(
      'OpenAI answered HTTP 401: Incorrect API key provided: can********************4b8b. The key sent was [redacted].',
    );

    const generationId = result.frames[0]?.data.generation_id;
    const stored = await fetch(`${gateway.url}/api/v1/generations/${generationId}`);
    expect(stored.status).toBe(200);
    const body = await stored.text();
    expect(JSON.parse(body).error).toMatchObject({ code: 'provider_auth' });
    expect(body).not.toContain(KEY);

    await eventually(
      () => logs.lines.some((line) => line.msg === 'generation ended'),
      2000,
      'the generation log line',
    );
    expect(logs.raw.join('')).not.toContain(KEY);
  });
});
