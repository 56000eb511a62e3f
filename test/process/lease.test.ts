import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { type RedisServer, startRedis } from '../helpers/redis.js';
import { chatBody, invariantViolation, readResponse } from '../helpers/sse.js';
import { type Child, spawnEmulator, spawnGateway } from './processes.js';

const LEASE_MS = 600;

let redis: RedisServer;
let emulator: Awaited<ReturnType<typeof spawnEmulator>>;
let survivor: TestGateway;
let doomed: Child | undefined;

beforeAll(async () => {
  redis = await startRedis();
  emulator = await spawnEmulator();
  survivor = await startTestGateway({ redisUrl: redis.url, ownerLeaseMs: LEASE_MS });
}, 30_000);
afterAll(async () => {
  await doomed?.stop();
  await survivor?.close();
  await emulator?.stop();
  await redis?.stop();
});

describe('an instance that dies mid-generation', () => {
  it('leaves no reader waiting and no result running: another instance ends it with error and done', async () => {
    doomed = await spawnGateway(emulator.url, {
      REDIS_URL: redis.url,
      SLUICE_OWNER_LEASE_MS: String(LEASE_MS),
      SLUICE_LOG: '0',
    });
    await emulator.script('openai', { chunkDelayMs: 200, chunks: 200 });
    const created = await fetch(`${doomed.url}/api/v1/generations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chatBody()),
    });
    expect(created.status).toBe(201);
    const { generation_id: id } = (await created.json()) as { generation_id: string };
    // Let a few frames reach Redis, then kill the owner without any chance to clean up.
    await new Promise((resolve) => setTimeout(resolve, 700));
    doomed.process.kill('SIGKILL');
    await doomed.exited;
    const killedAt = Date.now();

    const resumed = await readResponse(
      await fetch(`${survivor.url}/api/v1/chat/stream/${id}`, {
        signal: AbortSignal.timeout(LEASE_MS + 5000),
      }),
    );
    expect(Date.now() - killedAt).toBeLessThan(LEASE_MS + 1000 + 500);
    expect(invariantViolation(resumed)).toBeUndefined();
    const error = resumed.frames.at(-2);
    expect(error?.event).toBe('error');
    expect(error?.data).toMatchObject({ code: 'internal', retryable: true, partial: true });
    expect(resumed.frames.at(-1)?.data.finish_reason).toBe('error');

    const result = (await (await fetch(`${survivor.url}/api/v1/generations/${id}`)).json()) as Record<
      string,
      unknown
    >;
    expect(result).toMatchObject({ status: 'done', finish_reason: 'error', provider: 'openai' });
    expect(String(result.text).length).toBeGreaterThan(0);
  });
});
