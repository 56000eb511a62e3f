import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyModelGguf, writeTinyModel } from '../../src/providers/local/tiny-model.js';
import { startGateway } from '../../src/server/gateway.js';
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { openLive, streamRequest } from '../helpers/live.js';
import { invariantViolation, postStream, readTimed, textOf } from '../helpers/sse.js';
import { hasNodeLlamaCpp } from '../helpers/system.js';

/**
 * The local provider through the real gateway and the real runtime: node-llama-cpp running the
 * tiny random model (written to a temporary folder here), on an ephemeral loopback port.
 */

const folder = mkdtempSync(join(tmpdir(), 'sluice-local-'));
const modelPath = join(folder, 'tiny.gguf');
const STREAM = '/api/v1/chat/stream';

interface RuntimeStatus {
  loaded: boolean;
  running: number;
  waiting: number;
  tokens_generated: number;
}

// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
async function health(url: string): Promise<Record<string, any>> {
  return (await (await fetch(`${url}${STREAM}/health`)).json()) as Record<string, unknown>;
}

async function runtime(url: string): Promise<RuntimeStatus> {
  return (await health(url)).providers.local.runtime as RuntimeStatus;
}

function localBody(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { provider: 'local', messages: [{ role: 'user', content: 'Hello' }], ...extra };
}

/** Greedy decoding of the tiny model never picks its end token: it runs to the limit, the same every time. */
const LONG = { temperature: 0, max_tokens: 1500 };

async function cancel(url: string, id: string): Promise<number> {
  return (await fetch(`${url}${STREAM}/${id}/cancel`, { method: 'POST' })).status;
}

describe('local provider without a model or without a readable one', () => {
  it('is not configured without SLUICE_LOCAL_MODEL outside demo mode: health says why, a request gets a 400', async () => {
    const gateway = await startGateway({ env: { SLUICE_DEMO: '0' }, settings: { port: 0 }, webRoot: null });
    try {
      const entry = (await health(gateway.url)).providers.local;
      expect(entry.configured).toBe(false);
      expect(entry.unavailable).toMatch(/SLUICE_LOCAL_MODEL/);
      const refused = await postStream(gateway.url, localBody());
      expect(refused.status).toBe(400);
      expect(refused.json.error).toMatchObject({ code: 'provider_unavailable', field: 'provider' });
      expect(refused.json.error.message).toMatch(/not configured: set SLUICE_LOCAL_MODEL/);
    } finally {
      await gateway.close(100);
    }
  });

  it('a model file that does not exist is refused before the stream, naming the file, not its folder', async () => {
    const gateway = await startGateway({
      env: { SLUICE_DEMO: '0', SLUICE_LOCAL_MODEL: join(folder, 'missing.gguf') },
      settings: { port: 0 },
      webRoot: null,
    });
    try {
      const refused = await postStream(gateway.url, localBody());
      expect(refused.status).toBe(400);
      expect(refused.json.error.code).toBe('provider_unavailable');
      expect(refused.json.error.message).toContain('missing.gguf');
      expect(refused.json.error.message).not.toContain(folder);
    } finally {
      await gateway.close(100);
    }
  });
});

describe.runIf(hasNodeLlamaCpp())('local provider: the tiny model in process, through the gateway', () => {
  let harness: TestGateway;

  beforeAll(async () => {
    await writeTinyModel(modelPath);
    harness = await startTestGateway(
      // Waiting requests outlast this idle timeout in one test below; a disconnect aborts at once.
      { idleTimeoutMs: 1000, resumeGraceMs: 0 },
      { SLUICE_LOCAL_MODEL: modelPath, SLUICE_LOCAL_THREADS: '1', SLUICE_LOCAL_QUEUE: '2' },
    );
  });
  afterAll(async () => harness?.close());

  it('health lists it as configured, with the model named by its file, and loads nothing before first use', async () => {
    const entry = (await health(harness.url)).providers.local;
    expect(entry).toMatchObject({
      configured: true,
      emulated: false,
      default_model: 'tiny.gguf',
      models: ['tiny.gguf'],
      capabilities: { 'tiny.gguf': { reasoning: false, tools: false, reportsUsage: true } },
    });
    expect(entry.runtime).toMatchObject({ loaded: false, running: 0, waiting: 0 });
  });

  it('streams each token as the native thread produces it: frames arrive one by one, the first long before the end', async () => {
    // Loaded by a first request, so the timing below is of generation alone.
    expect((await postStream(harness.url, localBody({ max_tokens: 4 }))).status).toBe(200);
    const live = await openLive(
      `${harness.url}${STREAM}`,
      streamRequest(localBody({ temperature: 0, max_tokens: 400 })),
    );
    await eventually(() => live.frames.some((frame) => frame.event === 'chunk'), 10_000, 'a first chunk');
    // The first chunk is here and the runtime is still generating the rest.
    const during = await runtime(harness.url);
    expect(during.running).toBe(1);
    const raw = await live.ended;
    const frames = live.frames;
    expect(invariantViolation({ frames, raw } as Parameters<typeof invariantViolation>[0])).toBeUndefined();
    const chunks = frames.filter((frame) => frame.event === 'chunk');
    expect(chunks.length).toBeGreaterThan(300);
    const done = frames.at(-1)?.data;
    expect(done.finish_reason).toBe('length');
    expect(done.stats.ttft_ms).toBeLessThan(done.stats.duration_ms / 2);

    const { frames: timed } = await readTimed(harness.url, localBody({ temperature: 0, max_tokens: 400 }));
    const timedChunks = timed.filter((frame) => frame.event === 'chunk');
    const first = timedChunks[0]?.at ?? 0;
    const last = timedChunks.at(-1)?.at ?? 0;
    // Spread over the generation, not delivered in one burst at its end.
    expect(last - first).toBeGreaterThan(50);
    expect(new Set(timedChunks.map((frame) => Math.round(frame.at / 5))).size).toBeGreaterThan(10);
    expect(textOf(timed)).toBe(textOf(frames));
  });

  it('usage is the model’s own count: the rendered prompt by its tokenizer, every sampled token, estimated false', async () => {
    const before = (await runtime(harness.url)).tokens_generated;
    const result = await postStream(
      harness.url,
      localBody({
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Ça va ? Dis-moi tout.' },
        ],
        temperature: 1,
        max_tokens: 200,
      }),
    );
    expect(result.status).toBe(200);
    expect(invariantViolation(result)).toBeUndefined();
    const done = result.frames.at(-1)?.data;
    const after = (await runtime(harness.url)).tokens_generated;
    expect(done.usage.estimated).toBe(false);
    expect(done.usage.output_tokens).toBe(after - before);
    expect(done.usage.total_tokens).toBe(done.usage.input_tokens + done.usage.output_tokens);

    // The tiny model's tokens are single bytes plus special tokens, so both counts can be checked by hand:
    // the ChatML prompt (what its GGUF chat template renders), after the BOS token the runtime puts first.
    const prompt =
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nÇa va ? Dis-moi tout.<|im_end|>\n<|im_start|>assistant\n';
    const specials = prompt.match(/<\|im_(start|end)\|>/g)?.length ?? 0;
    const promptBytes = Buffer.byteLength(prompt.replace(/<\|im_(start|end)\|>/g, ''));
    expect(done.usage.input_tokens).toBe(1 + specials + promptBytes);
    expect(result.frames.find((frame) => frame.event === 'metadata')?.data.input_tokens).toBe(
      done.usage.input_tokens,
    );
    // Output: one token per byte of the answer, and one more for the end-of-turn token when it stopped on its own.
    const text = textOf(result.frames);
    const endToken = done.finish_reason === 'stop' ? 1 : 0;
    expect(done.usage.output_tokens).toBe(Buffer.byteLength(text) + endToken);
  });

  it('characters made of several byte tokens arrive whole, never as replacement characters', async () => {
    let text = '';
    // Greedy answers to these prompts hold é or € (found by trying the tiny model); several, so
    // that no one of them decides the test.
    const prompts = ['Bonjour', 'Hello', 'Zürich', 'price €5'];
    for (let round = 0; round < prompts.length && !/[é€]/.test(text); round++) {
      const result = await postStream(harness.url, {
        ...localBody({ temperature: 0, max_tokens: 300 }),
        messages: [{ role: 'user', content: prompts[round] }],
      });
      for (const chunk of result.frames.filter((frame) => frame.event === 'chunk')) {
        expect(chunk.data.delta_text).not.toContain('\uFFFD');
        expect(chunk.data.delta_text.isWellFormed()).toBe(true);
      }
      text += textOf(result.frames);
    }
    // é is two byte tokens and € three: the runtime held the first bytes until the character was whole.
    expect(text).toMatch(/[é€]/);
  });

  it('cancel stops the native generation within a token: the runtime’s own counter stops', async () => {
    const before = (await runtime(harness.url)).tokens_generated;
    const live = await openLive(`${harness.url}${STREAM}`, streamRequest(localBody(LONG)));
    await live.waitForFrames(20, 10_000);
    const id = live.frames[0]?.data.generation_id as string;
    expect(await cancel(harness.url, id)).toBe(200);
    await live.ended;
    const done = live.frames.at(-1)?.data;
    expect(live.frames.at(-2)?.event).toBe('cancelled');
    expect(done.finish_reason).toBe('cancelled');
    const stopped = await runtime(harness.url);
    expect(stopped.running).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const later = await runtime(harness.url);
    expect(later.tokens_generated).toBe(stopped.tokens_generated);
    const generated = later.tokens_generated - before;
    expect(generated).toBeLessThan(LONG.max_tokens);
    // What the done frame reports is what streamed; at most the token in flight and one held back more.
    expect(generated - done.usage.output_tokens).toBeLessThanOrEqual(2);
    expect(done.usage.output_tokens).toBeGreaterThanOrEqual(
      live.frames.filter((f) => f.event === 'chunk').length,
    );
  });

  it('a token budget ends the stream with length and budget_hit, and stops the native generation', async () => {
    const before = (await runtime(harness.url)).tokens_generated;
    const { frames } = await readTimed(harness.url, localBody({ ...LONG, token_budget: 30 }));
    const done = frames.at(-1)?.data;
    expect(done.finish_reason).toBe('length');
    expect(done.stats.budget_hit).toBe(true);
    const stopped = await runtime(harness.url);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await runtime(harness.url)).tokens_generated).toBe(stopped.tokens_generated);
    // The budget cut a 1500-token greedy answer far before its end: within a token or two of it.
    expect(stopped.tokens_generated - before).toBeLessThan(40);
  });

  it('a client that goes away (no grace period here) stops the native generation too', async () => {
    const live = await openLive(`${harness.url}${STREAM}`, streamRequest(localBody(LONG)));
    await live.waitForFrames(20, 10_000);
    live.cut();
    let stopped: RuntimeStatus | undefined;
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      stopped = await runtime(harness.url);
      if (stopped.running === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(stopped?.running).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await runtime(harness.url)).tokens_generated).toBe(stopped?.tokens_generated);
  });

  it('with one slot, concurrent requests wait in line and run one after another, in order, none timing out', async () => {
    // The last one waits for two others, longer than the 1 s idle timeout.
    const body = localBody({ temperature: 0, max_tokens: 800 });
    const streams = [];
    for (let index = 0; index < 3; index++) {
      const live = await openLive(`${harness.url}${STREAM}`, streamRequest(body));
      // The start frame means the request reached the model's line.
      await live.waitForFrames(1, 5000);
      streams.push(live);
    }
    const status = await runtime(harness.url);
    expect(status.running).toBe(1);
    expect(status.waiting).toBeGreaterThanOrEqual(1);
    const finishedAt: number[] = [];
    await Promise.all(
      streams.map(async (live, index) => {
        await live.ended;
        finishedAt[index] = performance.now();
      }),
    );
    for (const live of streams) {
      expect(live.frames.filter((frame) => frame.event === 'error')).toEqual([]);
      const done = live.frames.at(-1)?.data;
      expect(done.finish_reason).toBe('length');
      expect(done.usage.output_tokens).toBe(800);
      expect(done.stats.attempts).toBe(1);
    }
    expect(finishedAt).toEqual([...finishedAt].sort((a, b) => a - b));
    // Same prompt, greedy: the same answer each time, whoever waited.
    expect(new Set(streams.map((live) => textOf(live.frames))).size).toBe(1);
  }, 60_000);

  it('a request cancelled while it waits leaves the line at once, while the one running goes on', async () => {
    const running = await openLive(`${harness.url}${STREAM}`, streamRequest(localBody(LONG)));
    await running.waitForFrames(5, 10_000);
    const waiting = await openLive(`${harness.url}${STREAM}`, streamRequest(localBody(LONG)));
    await waiting.waitForFrames(1, 5000);
    expect((await runtime(harness.url)).waiting).toBe(1);
    const started = performance.now();
    expect(await cancel(harness.url, waiting.frames[0]?.data.generation_id)).toBe(200);
    await waiting.ended;
    expect(performance.now() - started).toBeLessThan(1000);
    expect(waiting.frames.map((frame) => frame.event)).toEqual(['start', 'cancelled', 'done']);
    const status = await runtime(harness.url);
    expect(status).toMatchObject({ running: 1, waiting: 0 });
    expect(await cancel(harness.url, running.frames[0]?.data.generation_id)).toBe(200);
    await running.ended;
  });

  it('past the line’s bound, a request is refused with a 503 before any stream', async () => {
    const first = await openLive(`${harness.url}${STREAM}`, streamRequest(localBody(LONG)));
    await first.waitForFrames(3, 10_000);
    const queued = [];
    for (let index = 0; index < 2; index++) {
      const live = await openLive(`${harness.url}${STREAM}`, streamRequest(localBody(LONG)));
      await live.waitForFrames(1, 5000);
      queued.push(live);
    }
    expect(await runtime(harness.url)).toMatchObject({ running: 1, waiting: 2 });
    const refused = await postStream(harness.url, localBody());
    expect(refused.status).toBe(503);
    expect(refused.json.error.code).toBe('unavailable');
    expect(refused.json.error.message).toMatch(/busy/);
    for (const live of [...queued, first]) await cancel(harness.url, live.frames[0]?.data.generation_id);
    await Promise.all([first, ...queued].map((live) => live.ended));
    expect(await runtime(harness.url)).toMatchObject({ running: 0, waiting: 0 });
  });

  it('refuses before the stream what the model cannot do: tools, a reasoning budget, another model', async () => {
    const tools = await postStream(
      harness.url,
      localBody({ tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }] }),
    );
    expect([tools.status, tools.json.error.code, tools.json.error.field]).toEqual([
      400,
      'invalid_request',
      'tools',
    ]);
    const thinking = await postStream(harness.url, localBody({ thinking_budget: 1024 }));
    expect([thinking.status, thinking.json.error.code]).toEqual([400, 'thinking_not_supported']);
    const model = await postStream(harness.url, localBody({ model: 'llama3.gguf' }));
    expect([model.status, model.json.error.code]).toEqual([400, 'model_not_supported']);
    const toolTurn = await postStream(
      harness.url,
      localBody({ messages: [{ role: 'tool', tool_call_id: 'call_1', content: '{}' }] }),
    );
    expect([toolTurn.status, toolTurn.json.error.field]).toEqual([400, 'messages.0']);
  });

  it('a local generation resumes from Last-Event-ID and has a result, like any other', async () => {
    const result = await postStream(harness.url, localBody({ temperature: 0, max_tokens: 30 }));
    const id = result.frames[0]?.data.generation_id as string;
    const resumed = await fetch(`${harness.url}${STREAM}/${id}`, { headers: { 'last-event-id': '3' } });
    const resumedText = await resumed.text();
    const expectedIds = result.frames.filter((frame) => frame.id > 3).map((frame) => `id: ${frame.id}`);
    expect(resumedText.match(/^id: \d+$/gm)).toEqual(expectedIds);
    const stored = (await (await fetch(`${harness.url}/api/v1/generations/${id}`)).json()) as Record<
      string,
      unknown
    >;
    expect(stored).toMatchObject({
      status: 'done',
      provider: 'local',
      model: 'tiny.gguf',
      text: textOf(result.frames),
      finish_reason: 'length',
    });
    expect((stored.usage as { estimated: boolean }).estimated).toBe(false);
  });

  it('a model that cannot be loaded ends its stream with a clear error and done, every time, no hang', async () => {
    const brokenPath = join(folder, 'broken.gguf');
    // Metadata intact, tensor data cut short: readable at start, refused by llama.cpp on load.
    const whole = tinyModelGguf();
    writeFileSync(brokenPath, whole.subarray(0, Math.floor(whole.length / 2)));
    const gateway = await startTestGateway({}, { SLUICE_LOCAL_MODEL: brokenPath, SLUICE_LOCAL_THREADS: '1' });
    try {
      expect((await health(gateway.url)).providers.local.configured).toBe(true);
      for (let round = 0; round < 2; round++) {
        const result = await postStream(gateway.url, localBody());
        expect(result.status).toBe(200);
        expect(invariantViolation(result)).toBeUndefined();
        const error = result.frames.find((frame) => frame.event === 'error')?.data;
        expect(error).toMatchObject({ code: 'upstream_error', retryable: false, partial: false });
        expect(error.message).toMatch(/^the local model broken\.gguf could not be loaded/);
        expect(error.message).not.toContain(folder);
        expect(error.message).not.toMatch(/\n\s+at /);
        expect(result.frames.at(-1)?.data).toMatchObject({ finish_reason: 'error', stats: { attempts: 1 } });
      }
    } finally {
      await gateway.close();
    }
  });

  it('demo mode serves the tiny model from the cache folder, written there on start', async () => {
    const cache = join(folder, 'cache');
    const gateway = await startTestGateway({}, { XDG_CACHE_HOME: cache, SLUICE_LOCAL_THREADS: '1' });
    try {
      const entry = (await health(gateway.url)).providers.local;
      expect(entry).toMatchObject({ configured: true, default_model: 'sluice-tiny.gguf' });
      expect(existsSync(join(cache, 'sluice', 'tiny-model-v1', 'sluice-tiny.gguf'))).toBe(true);
      const result = await postStream(gateway.url, localBody({ max_tokens: 8 }));
      expect(result.frames.at(-1)?.data).toMatchObject({
        model: 'sluice-tiny.gguf',
        finish_reason: expect.any(String),
      });
      expect(invariantViolation(result)).toBeUndefined();
    } finally {
      await gateway.close();
    }
  });
});
