import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from '../helpers/redis.js';
import { chatBody, invariantViolation, readResponse, textOf } from '../helpers/sse.js';
import { type Child, runCli, spawnEmulator, spawnGateway } from './processes.js';

let redis: RedisServer;
let emulator: Awaited<ReturnType<typeof spawnEmulator>>;
let gateway: Child;

/** GET on a fresh connection: node:cluster hands each new connection to the next worker. */
function getFresh(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const outgoing = request(url, { agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (piece: string) => {
        body += piece;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

beforeAll(async () => {
  redis = await startRedis();
  emulator = await spawnEmulator();
  gateway = await spawnGateway(emulator.url, { REDIS_URL: redis.url, SLUICE_LOG: '0' }, ['--workers', '2']);
}, 30_000);
afterAll(async () => {
  await gateway?.stop();
  await emulator?.stop();
  await redis?.stop();
});

describe('sluice serve --workers 2', () => {
  it('refuses to start without REDIS_URL, saying so', async () => {
    const refused = await runCli(['serve', '--port', '0', '--workers', '2'], { SLUICE_DEMO: '1' });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('needs REDIS_URL');
  });

  it('serves from two processes, and any worker resumes, cancels and reads any generation', async () => {
    const pids = new Set<number>();
    for (let index = 0; index < 6; index++) {
      const health = await getFresh(`${gateway.url}/api/v1/chat/stream/health`);
      expect(health.status).toBe(200);
      pids.add((JSON.parse(health.body) as { pid: number }).pid);
    }
    expect(pids.size).toBe(2);

    await emulator.script('openai', ...Array.from({ length: 6 }, () => ({ chunkDelayMs: 40, chunks: 25 })));
    const ids: string[] = [];
    for (let index = 0; index < 6; index++) {
      const created = await fetch(`${gateway.url}/api/v1/generations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', connection: 'close' },
        body: JSON.stringify(chatBody()),
      });
      expect(created.status).toBe(201);
      ids.push(((await created.json()) as { generation_id: string }).generation_id);
    }
    // Cancel half from fresh connections (whichever worker), read the rest to the end.
    for (const id of ids.slice(0, 3)) {
      const cancel = await new Promise<number>((resolve, reject) => {
        const outgoing = request(
          `${gateway.url}/api/v1/chat/stream/${id}/cancel`,
          { method: 'POST', agent: false },
          (response) => {
            response.resume();
            resolve(response.statusCode ?? 0);
          },
        );
        outgoing.on('error', reject);
        outgoing.end();
      });
      expect(cancel).toBe(200);
    }
    for (const [index, id] of ids.entries()) {
      const stream = await readResponse(await fetch(`${gateway.url}/api/v1/chat/stream/${id}`));
      expect(invariantViolation(stream)).toBeUndefined();
      const done = stream.frames.at(-1);
      expect(done?.data.finish_reason).toBe(index < 3 ? 'cancelled' : 'stop');
      if (index >= 3) expect(textOf(stream.frames).length).toBeGreaterThan(0);
      const result = JSON.parse((await getFresh(`${gateway.url}/api/v1/generations/${id}`)).body) as {
        status: string;
      };
      expect(result.status).toBe('done');
    }
  });

  it('finishes on SIGTERM: the workers end their streams and the primary exits 0', async () => {
    gateway.process.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
  });
});
