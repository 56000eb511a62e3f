import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { chatBody, invariantViolation, postStream, readResponse, textOf } from '../helpers/sse.js';

/**
 * The native stream's other forms (CONTRACT.md section 8): NDJSON and plain text chosen by
 * `Accept`, their resume, and the v2 request conveniences (prompt, the `/v1/chat/stream` alias).
 */

let harness: TestGateway;
beforeAll(async () => {
  harness = await startTestGateway({ resumeGraceMs: 3000 });
});
afterAll(() => harness.close());
beforeEach(() => harness.emulator.reset());

const NDJSON = 'application/x-ndjson';

/** Deterministic pseudo-random numbers for reproducible cut points. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32;
  };
}

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Every byte received before the end or the cut. */
  body: Buffer;
  /** The body ended normally (not cut). */
  complete: boolean;
}

/**
 * One HTTP exchange read as raw bytes, cut by the client (socket destroyed) once more than
 * `cutAfterBytes` arrived. What the client keeps of a cut answer is decided by the caller.
 */
function exchange(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; cutAfterBytes?: number },
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      url,
      { method: options.method ?? 'GET', headers: options.headers },
      (incoming) => {
        const pieces: Buffer[] = [];
        let received = 0;
        let cut = false;
        incoming.on('data', (piece: Buffer) => {
          if (cut) return;
          pieces.push(piece);
          received += piece.length;
          if (options.cutAfterBytes !== undefined && received > options.cutAfterBytes) {
            cut = true;
            incoming.destroy();
            resolve({
              status: incoming.statusCode ?? 0,
              headers: incoming.headers,
              body: Buffer.concat(pieces),
              complete: false,
            });
          }
        });
        incoming.on('end', () => {
          if (!cut)
            resolve({
              status: incoming.statusCode ?? 0,
              headers: incoming.headers,
              body: Buffer.concat(pieces),
              complete: true,
            });
        });
        incoming.on('error', () => {
          if (!cut)
            resolve({
              status: incoming.statusCode ?? 0,
              headers: incoming.headers,
              body: Buffer.concat(pieces),
              complete: false,
            });
        });
      },
    );
    outgoing.on('error', reject);
    outgoing.end(options.body);
  });
}

const post = (accept: string, body: unknown, cutAfterBytes?: number) =>
  exchange(`${harness.url}/api/v1/chat/stream`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept },
    body: JSON.stringify(body),
    cutAfterBytes,
  });

// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary frame fields
type Line = { id: number; event: string; data: any };
const linesOf = (text: string): Line[] =>
  text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as Line);

/** The native SSE frames of a generation, read from the start. */
async function nativeFrames(id: string) {
  const whole = await readResponse(await fetch(`${harness.url}/api/v1/chat/stream/${id}`));
  expect(invariantViolation(whole)).toBeUndefined();
  return whole.frames;
}

/** The bytes of `buffer` up to its last complete UTF-8 character. */
function wholeCharacters(buffer: Buffer): Buffer {
  let end = buffer.length;
  // Step back over continuation bytes to the lead byte of the last character.
  let lead = end - 1;
  while (lead >= 0 && ((buffer[lead] ?? 0) & 0xc0) === 0x80) lead--;
  if (lead < 0) return buffer.subarray(0, 0);
  const first = buffer[lead] ?? 0;
  const length = first < 0x80 ? 1 : first >= 0xf0 ? 4 : first >= 0xe0 ? 3 : 2;
  if (lead + length > end) end = lead;
  return buffer.subarray(0, end);
}

describe('Accept: application/x-ndjson', () => {
  it('answers one JSON line per frame, ids 1..n, ending after done, the same frames as SSE', async () => {
    harness.emulator.enqueue('openai', { text: 'Line one\nline "two" \u2028 end' });
    const answer = await post(NDJSON, chatBody('openai'));
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe(NDJSON);
    expect(answer.headers['cache-control']).toBe('no-cache');
    const text = answer.body.toString('utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(text).not.toContain('[DONE]');
    const lines = linesOf(text);
    expect(lines.map((line) => line.id)).toEqual(lines.map((_, index) => index + 1));
    expect(lines.at(-1)?.event).toBe('done');
    for (const line of lines) expect(line.data.type).toBe(line.event);
    const id = String(answer.headers['x-generation-id']);
    expect(lines).toEqual(await nativeFrames(id));
    expect(textOf(lines)).toBe('Line one\nline "two" \u2028 end');
  });

  it('ends with the error line and done when the upstream fails mid-answer', async () => {
    harness.emulator.enqueue('openai', { chunks: 8, fault: { type: 'midstream_error', afterChunks: 3 } });
    const lines = linesOf((await post(NDJSON, chatBody('openai'))).body.toString('utf8'));
    expect(lines.slice(-2).map((line) => line.event)).toEqual(['error', 'done']);
    expect(lines.at(-1)?.data.finish_reason).toBe('error');
  });

  it('resumes with Last-Event-ID: every frame once, in order, under random disconnects', async () => {
    const next = random(7);
    let resumes = 0;
    await Promise.all(
      Array.from({ length: 12 }, async (_, run) => {
        harness.emulator.enqueue('openai', { chunkDelayMs: 2, chunks: 20 + run });
        let answer = await post(NDJSON, chatBody('openai'), 40 + Math.floor(next() * 600));
        const id = String(answer.headers['x-generation-id']);
        const assembled: Line[] = [];
        for (let attempt = 0; attempt < 50; attempt++) {
          const text = answer.body.toString('utf8');
          // A cut line is dropped: its frame comes again after the last whole line's id.
          const whole = answer.complete ? text : text.slice(0, text.lastIndexOf('\n') + 1);
          assembled.push(...linesOf(whole));
          if (answer.complete || answer.status === 204) break;
          resumes++;
          answer = await exchange(`${harness.url}/api/v1/chat/stream/${id}`, {
            headers: { accept: NDJSON, 'last-event-id': String(assembled.at(-1)?.id ?? 0) },
            cutAfterBytes: next() < 0.7 ? 40 + Math.floor(next() * 600) : undefined,
          });
        }
        expect(assembled.at(-1)?.event).toBe('done');
        expect(assembled).toEqual(await nativeFrames(id));
      }),
    );
    // How many answers a cut leaves unfinished depends on how fast generations run: over h2c
    // (demo mode's upstream) they run a little faster than over HTTP/1.1, and fewer need a resume.
    expect(resumes).toBeGreaterThanOrEqual(20);
  }, 30_000);
});

describe('Accept: text/plain', () => {
  it('answers the answer text alone', async () => {
    harness.emulator.enqueue('anthropic', { text: 'Grüße, 世界! 🎉\nDone.' });
    const answer = await post('text/plain', chatBody('anthropic', { thinking_budget: 2048 }));
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(answer.body.toString('utf8')).toBe('Grüße, 世界! 🎉\nDone.');
    // The reasoning happened, but only the answer is text.
    const frames = await nativeFrames(String(answer.headers['x-generation-id']));
    expect(textOf(frames, 'thinking').length).toBeGreaterThan(0);
  });

  it('ends the body with a line "[error] <code>: <message>" after a failure', async () => {
    harness.emulator.enqueue('openai', {
      text: 'one two three four five',
      fault: { type: 'midstream_error', afterChunks: 2 },
    });
    const answer = await post('text/plain', chatBody('openai'));
    const frames = await nativeFrames(String(answer.headers['x-generation-id']));
    const error = frames.find((frame) => frame.event === 'error')?.data;
    expect(answer.body.toString('utf8')).toBe(`${textOf(frames)}\n[error] ${error.code}: ${error.message}\n`);
    expect(textOf(frames)).toBe('one two ');
  });

  it('writes the error line alone when the failure came before any text', async () => {
    harness.emulator.enqueue('openai', { fault: { type: 'http', status: 400 } });
    const answer = await post('text/plain', chatBody('openai'));
    expect(answer.status).toBe(200);
    expect(answer.body.toString('utf8')).toMatch(
      /^\[error\] bad_request: OpenAI answered HTTP 400: [^\n]*\n$/,
    );
  });

  it('resumes by byte offset (or frame id): every character once, in order, under random cuts', async () => {
    const next = random(11);
    let resumes = 0;
    const words = 'Grüße aus Köln, 世界 and 🎉 emoji with\nnew lines, “quotes” and plain words too';
    await Promise.all(
      Array.from({ length: 12 }, async (_, run) => {
        const text = `${words} ${run}`.repeat(3);
        harness.emulator.enqueue('openai', { chunkDelayMs: 2, text });
        let answer = await post('text/plain', chatBody('openai'), 5 + Math.floor(next() * 80));
        const id = String(answer.headers['x-generation-id']);
        let held = Buffer.alloc(0);
        for (let attempt = 0; attempt < 80; attempt++) {
          if (answer.status === 204) break;
          // What the client keeps: a random prefix of what arrived, then only whole characters.
          const kept = answer.complete
            ? answer.body
            : wholeCharacters(answer.body.subarray(0, Math.floor(next() * (answer.body.length + 1))));
          held = Buffer.concat([held, kept]);
          if (answer.complete) break;
          resumes++;
          answer = await exchange(`${harness.url}/api/v1/chat/stream/${id}?offset=${held.length}`, {
            headers: { accept: 'text/plain' },
            cutAfterBytes: next() < 0.8 ? 5 + Math.floor(next() * 80) : undefined,
          });
        }
        expect(held.toString('utf8')).toBe(text);
        const whole = await exchange(`${harness.url}/api/v1/chat/stream/${id}`, {
          headers: { accept: 'text/plain' },
        });
        expect(whole.body.toString('utf8')).toBe(text);
      }),
    );
    // How many answers a cut leaves unfinished depends on how fast generations run: over h2c
    // (demo mode's upstream) they run a little faster than over HTTP/1.1, and fewer need a resume.
    expect(resumes).toBeGreaterThanOrEqual(20);
  }, 30_000);

  it('resumes by Last-Event-ID, answers 204 at the end, and refuses an offset inside a character', async () => {
    harness.emulator.enqueue('openai', { text: 'é and more' });
    const answer = await post('text/plain', chatBody('openai'));
    const id = String(answer.headers['x-generation-id']);
    const frames = await nativeFrames(id);
    const firstChunk = frames.find((frame) => frame.event === 'chunk');
    const rest = await exchange(`${harness.url}/api/v1/chat/stream/${id}`, {
      headers: { accept: 'text/plain', 'last-event-id': String(firstChunk?.id) },
    });
    expect(firstChunk?.data.delta_text + rest.body.toString('utf8')).toBe('é and more');
    const end = await exchange(`${harness.url}/api/v1/chat/stream/${id}?offset=${answer.body.length}`, {
      headers: { accept: 'text/plain' },
    });
    expect(end.status).toBe(204);
    const inside = await exchange(`${harness.url}/api/v1/chat/stream/${id}?offset=1`, {
      headers: { accept: 'text/plain' },
    });
    expect(inside.status).toBe(400);
    expect(JSON.parse(inside.body.toString('utf8')).error).toMatchObject({
      code: 'invalid_request',
      field: 'offset',
    });
    const past = await exchange(`${harness.url}/api/v1/chat/stream/${id}?offset=999`, {
      headers: { accept: 'text/plain' },
    });
    expect(past.status).toBe(400);
  });
});

describe('requests, v2', () => {
  it('serves the /v1/chat/stream alias and the prompt shorthand', async () => {
    harness.emulator.enqueue('gemini', { text: 'Aliased.' });
    const result = await postStream(
      harness.url,
      { provider: 'gemini', prompt: 'Hi' },
      { path: '/v1/chat/stream' },
    );
    expect(result.status).toBe(200);
    expect(invariantViolation(result)).toBeUndefined();
    expect(textOf(result.frames)).toBe('Aliased.');
    for (const frame of result.frames) expect(frame.data.type).toBe(frame.event);
    const refused = await postStream(
      harness.url,
      { provider: 'gemini', prompt: 'Hi', messages: [{ role: 'user', content: 'Hi' }] },
      { path: '/v1/chat/stream' },
    );
    expect(refused.status).toBe(400);
    expect(refused.json.error).toMatchObject({ code: 'invalid_request', field: 'prompt' });
  });

  it('chooses SSE for Accept: */*, application/json and text/event-stream', async () => {
    for (const accept of [
      '*/*',
      'application/json',
      'text/event-stream',
      'text/plain;q=0.5, text/event-stream',
    ]) {
      const result = await postStream(harness.url, chatBody('openai'), { headers: { accept } });
      expect(result.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      expect(invariantViolation(result)).toBeUndefined();
    }
  });
});
