import { EventEmitter } from 'node:events';
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

/** Runs one generation against `baseUrl` (the shared upstream unless given). */
async function run(
  provider: ProviderDefinition,
  options: {
    baseUrl?: string;
    idleTimeoutMs?: number;
    maxRetries?: number;
    onGeneration?: (generation: Generation) => void;
  } = {},
): Promise<Generation> {
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
  options.onGeneration?.(generation);
  await runGeneration({
    generation,
    provider,
    model: 'gpt-4o-mini',
    request: parsed.request,
    providerSettings: { apiKey: 'k', baseUrl: options.baseUrl ?? upstreamUrl },
    transport,
    idleTimeoutMs: options.idleTimeoutMs ?? 2000,
    maxRetries: options.maxRetries ?? 2,
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

describe('the idle timeout', () => {
  /** An upstream that sends `chunks` content chunks `gapMs` apart, then finishes, or stalls when `stall`. */
  async function pacedUpstream(
    chunks: number,
    gapMs: number,
    stall: boolean,
  ): Promise<{ url: string; close(): Promise<void> }> {
    const server = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      let sent = 0;
      const next = (): void => {
        if (response.destroyed) return;
        if (sent < chunks) {
          sent++;
          response.write(
            `data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"w${sent} "},"finish_reason":null}]}\n\n`,
          );
          setTimeout(next, gapMs);
        } else if (!stall) {
          response.end(
            'data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n',
          );
        }
      };
      next();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
      close: () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    };
  }

  it('spans the whole answer only while it is quiet: chunks closer than the bound never trip it', async () => {
    // Ten chunks 60 ms apart: 600 ms in all, four times the 150 ms bound, never 150 ms quiet.
    const upstreamServer = await pacedUpstream(10, 60, false);
    try {
      const generation = await run(openai, {
        baseUrl: upstreamServer.url,
        idleTimeoutMs: 150,
        maxRetries: 0,
      });
      const frames = generation.log.all();
      expect(frames.filter((frame) => frame.event === 'chunk')).toHaveLength(10);
      expect(frames.at(-1)).toMatchObject({ event: 'done', data: { finish_reason: 'stop' } });
    } finally {
      await upstreamServer.close();
    }
  });

  it('ends a stream whose upstream goes quiet mid-answer once the bound has passed since its last chunk', async () => {
    const upstreamServer = await pacedUpstream(3, 60, true);
    try {
      const started = performance.now();
      const generation = await run(openai, {
        baseUrl: upstreamServer.url,
        idleTimeoutMs: 150,
        maxRetries: 0,
      });
      const elapsed = performance.now() - started;
      const frames = generation.log.all();
      expect(frames.filter((frame) => frame.event === 'chunk')).toHaveLength(3);
      expect(frames.find((frame) => frame.event === 'error')).toMatchObject({ data: { code: 'timeout' } });
      // The last chunk came at about 120 ms; the stream ends one bound (150 ms) later, not before
      // (the upper bound leaves room for a machine busy with other tests).
      expect(elapsed).toBeGreaterThanOrEqual(120 + 150 - 10);
      expect(elapsed).toBeLessThan(120 + 150 + 2000);
    } finally {
      await upstreamServer.close();
    }
  });
});

describe('reads after the first content', () => {
  /** One OpenAI SSE event carrying `content`. */
  const contentEvent = (content: string): Buffer =>
    Buffer.from(
      `data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":${JSON.stringify(content)}},"finish_reason":null}]}\n\n`,
    );
  const finishEvents = Buffer.from(
    'data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n',
  );

  /**
   * A provider answered in-process by a body the test drives: `deliver` gets the body once the run
   * listens to it, and the attempt's abort signal. An abort fails the body a turn later, as a
   * transport's would.
   */
  function handDriven(deliver: (body: EventEmitter, signal: AbortSignal) => void): ProviderDefinition {
    return {
      ...openai,
      async openUpstream(_request, signal) {
        const body = Object.assign(new EventEmitter(), { destroy: () => undefined });
        // As a local model does, it lets go of what it ran a moment after the abort, then fails the body.
        signal.addEventListener(
          'abort',
          () =>
            setTimeout(() => {
              released = true;
              // A body that had ended has nothing left to fail.
              if (!upstreamEnded) body.emit('error', new Error('aborted'));
            }, 20),
          { once: true },
        );
        setImmediate(() => deliver(body, signal));
        return { status: 200, headers: {}, body };
      },
    };
  }

  let cancel: (() => void) | undefined;
  /** The hand-driven upstream let go after an abort. */
  let released = false;
  /** The hand-driven upstream sent its end. */
  let upstreamEnded = false;

  const texts = (generation: Generation): string[] =>
    generation.log
      .all()
      .flatMap((frame) =>
        frame.event === 'chunk' && frame.data.delta_text !== '' ? [frame.data.delta_text] : [],
      );

  it("wait for the turn's reads to be handled, then reach the log in order, the end after the last", async () => {
    let textsRightAfter: string[] = [];
    let generationRef: Generation | undefined;
    const words = Array.from({ length: 300 }, (_, index) => `w${index} `);
    const generation = await run(
      handDriven((body) => {
        body.emit('data', contentEvent('first '));
        for (const word of words) body.emit('data', contentEvent(word));
        body.emit('data', finishEvents);
        body.emit('end');
        textsRightAfter = generationRef === undefined ? [] : texts(generationRef);
      }),
      { onGeneration: (created) => (generationRef = created) },
    );
    // The first content went to the log as it came; the burst behind it waited for the turn.
    expect(textsRightAfter).toEqual(['first ']);
    expect(texts(generation)).toEqual(['first ', ...words]);
    expect(events(generation).at(-1)).toBe('done');
    expect(generation.result()).toMatchObject({ status: 'done', finish_reason: 'stop' });
  });

  it('that waited when the generation was cancelled never reach the log, and the stream ends once the upstream let go', async () => {
    released = false;
    upstreamEnded = false;
    const generation = await run(
      handDriven((body) => {
        body.emit('data', contentEvent('first '));
        for (let index = 0; index < 5; index++) body.emit('data', contentEvent(`late${index} `));
        cancel?.();
      }),
      { onGeneration: (created) => (cancel = () => created.cancel('cancelled')) },
    );
    expect(released).toBe(true);
    expect(texts(generation)).toEqual(['first ']);
    expect(events(generation).at(-1)).toBe('done');
    expect(generation.result()).toMatchObject({ status: 'done', finish_reason: 'cancelled' });
  });
  it('end the stream as cancelled when the upstream had ended but its end still waited at the cancel', async () => {
    upstreamEnded = false;
    const generation = await run(
      handDriven((body) => {
        body.emit('data', contentEvent('first '));
        body.emit('data', contentEvent('second '));
        body.emit('data', finishEvents);
        upstreamEnded = true;
        body.emit('end');
        cancel?.();
      }),
      { onGeneration: (created) => (cancel = () => created.cancel('cancelled')) },
    );
    expect(texts(generation)).toEqual(['first ']);
    expect(events(generation).at(-1)).toBe('done');
    expect(generation.result()).toMatchObject({ status: 'done', finish_reason: 'cancelled' });
  });
});
