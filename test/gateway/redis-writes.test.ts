import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseFramesMessage } from '../../src/generation/redis-keys.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { openLive, streamRequest } from '../helpers/live.js';
import { type RedisServer, startRedis } from '../helpers/redis.js';
import { chatBody, invariantViolation, readResponse } from '../helpers/sse.js';

let redis: RedisServer;
let owner: TestGateway;
let other: TestGateway;
let inspector: Redis;

beforeAll(async () => {
  redis = await startRedis();
  owner = await startTestGateway({ redisUrl: redis.url, resumeGraceMs: 2000 });
  other = await startTestGateway({ redisUrl: redis.url, resumeGraceMs: 2000 });
  inspector = new Redis(redis.url);
}, 20_000);
afterAll(async () => {
  inspector?.disconnect();
  await owner?.close();
  await other?.close();
  await redis?.stop();
});

/** Calls per command since the server started (INFO commandstats; commands run by scripts included). */
async function calls(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const match of (await inspector.info('commandstats')).matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) {
    counts[match[1] as string] = Number(match[2]);
  }
  return counts;
}

/** The length of a generation's list in Redis, once it reaches `expected` (the last append may land just after the response ended) or a second passed. */
async function storedLength(id: string, expected: number): Promise<number> {
  let stored = 0;
  for (let tries = 0; tries < 50 && stored < expected; tries++) {
    stored = await inspector.llen(`sluice:gen:${id}:frames`);
    if (stored < expected) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return stored;
}

const scriptCalls = (counts: Record<string, number>): number => (counts.eval ?? 0) + (counts.evalsha ?? 0);

describe('how generations are written to Redis and followed', () => {
  it('writes an answer that arrives at once in a few appends, not one round trip per frame', async () => {
    owner.emulator.enqueue('openai', { chunkDelayMs: 0, chunks: 300 });
    const before = await calls();
    const response = await readResponse(
      await fetch(`${owner.url}/api/v1/chat/stream`, streamRequest(chatBody())),
    );
    expect(response.frames.length).toBeGreaterThan(300);
    const id = response.headers.get('x-generation-id') ?? '';
    expect(await storedLength(id, response.frames.length)).toBe(response.frames.length);
    const appends = scriptCalls(await calls()) - scriptCalls(before);
    expect(appends).toBeGreaterThan(0);
    expect(appends).toBeLessThan(response.frames.length / 10);
  });

  it('writes the reads of generations streaming side by side in one call, each list whole', async () => {
    const streams = 16;
    for (let index = 0; index < streams; index++)
      owner.emulator.enqueue('openai', { chunkDelayMs: 10, chunks: 40 });
    const before = await calls();
    const responses = await Promise.all(
      Array.from({ length: streams }, async () =>
        readResponse(await fetch(`${owner.url}/api/v1/chat/stream`, streamRequest(chatBody()))),
      ),
    );
    let frames = 0;
    for (const response of responses) {
      expect(invariantViolation(response)).toBeUndefined();
      frames += response.frames.length;
      const id = response.headers.get('x-generation-id') ?? '';
      expect(await storedLength(id, response.frames.length)).toBe(response.frames.length);
      const listed = await inspector.lrange(`sluice:gen:${id}:frames`, 0, -1);
      expect(listed.map((text) => JSON.parse(text))).toEqual(
        response.frames.map(({ event, data }) => ({ event, data })),
      );
    }
    // One read per chunk for each stream; the reads of the same moment share one call.
    const appendCalls = scriptCalls(await calls()) - scriptCalls(before);
    expect(appendCalls).toBeGreaterThan(0);
    expect(appendCalls).toBeLessThan(frames / 2);
  });

  it('hands a follower the frames in the message: no read back per frame, text intact', async () => {
    const text = 'Zeile eins\nline "two"\r\n\u2028 café 🌊 \\n end';
    owner.emulator.enqueue('openai', { chunkDelayMs: 15, text: `${text} ${text} ${text}` });
    const live = await openLive(`${owner.url}/api/v1/chat/stream`, streamRequest(chatBody()));
    await live.waitForFrames(2);
    const id = live.headers.get('x-generation-id');
    const before = await calls();
    const follower = await readResponse(await fetch(`${other.url}/api/v1/chat/stream/${id}`));
    await live.ended;
    const after = await calls();
    expect(invariantViolation(follower)).toBeUndefined();
    expect(follower.frames).toEqual(live.frames);
    expect(follower.frames.length).toBeGreaterThan(15);
    // One read when it starts following (and at most a retry while that read ran), not one per frame.
    expect((after.lrange ?? 0) - (before.lrange ?? 0)).toBeLessThanOrEqual(3);
  });

  it('closing right after a stream ended still leaves its end in Redis', async () => {
    const closing = await startTestGateway({ redisUrl: redis.url });
    closing.emulator.enqueue('openai', { chunkDelayMs: 0, chunks: 40 });
    const response = await readResponse(
      await fetch(`${closing.url}/api/v1/chat/stream`, streamRequest(chatBody())),
    );
    await closing.close();
    const id = response.headers.get('x-generation-id') ?? '';
    expect(await inspector.hget(`sluice:gen:${id}:meta`, 'status')).toBe('done');
    expect(await inspector.llen(`sluice:gen:${id}:frames`)).toBe(response.frames.length);
  });

  it('reads the channel messages it knows, and leaves the rest to a read of the list', () => {
    expect(parseFramesMessage('4\n{"a":1}\n{"b":2}')).toEqual({
      after: 4,
      ended: false,
      texts: ['{"a":1}', '{"b":2}'],
    });
    expect(parseFramesMessage('9.\n{"event":"done"}')).toEqual({
      after: 9,
      ended: true,
      texts: ['{"event":"done"}'],
    });
    expect(parseFramesMessage('12.')).toEqual({ after: 12, ended: true, texts: [] });
    // The orphan script's `end`, and a bare last id from an older instance: read the list.
    expect(parseFramesMessage('end')).toBeUndefined();
    expect(parseFramesMessage('12')).toBeUndefined();
  });
});
