import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Finished, runCli } from './processes.js';

/** A TCP server on a free loopback port; `silent` ones accept connections and never answer. */
async function listen(
  onConnection: (socket: Socket) => void = () => {},
): Promise<{ server: Server; port: number }> {
  const server = createServer(onConnection);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { server, port: address.port };
}

/** A free port: taken, then released. */
async function freePort(): Promise<number> {
  const { server, port } = await listen();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The contract's rule: a non-zero exit, in time, with one line on stderr and no stack trace. */
function expectOneClearLine(finished: Finished, ...mentions: RegExp[]): string {
  expect(finished.hung, `still running at the deadline; stderr:\n${finished.stderr}`).toBe(false);
  expect(finished.code).not.toBe(0);
  expect(finished.code).not.toBeNull();
  const lines = finished.stderr.split('\n').filter((line) => line.trim() !== '');
  expect(lines, finished.stderr).toHaveLength(1);
  const line = lines[0] ?? '';
  expect(line).not.toMatch(/^\s+at |Error: .*\n|node:internal/);
  for (const mention of mentions) expect(line).toMatch(mention);
  return line;
}

let taken: { server: Server; port: number };
let silent: { server: Server; port: number };
const held: Socket[] = [];
beforeAll(async () => {
  taken = await listen();
  silent = await listen((socket) => {
    held.push(socket);
    socket.on('error', () => {});
  });
});
afterAll(async () => {
  for (const socket of held) socket.destroy();
  await Promise.all([taken, silent].map(({ server }) => new Promise((resolve) => server.close(resolve))));
});

describe('a gateway that cannot start exits non-zero with one clear line', () => {
  it('port taken, in demo mode (the emulator must not keep it alive)', async () => {
    const finished = await runCli(['serve', '--demo', '--port', String(taken.port)]);
    expectOneClearLine(finished, new RegExp(String(taken.port)), /in use/);
  });

  it('port taken, without demo mode', async () => {
    const finished = await runCli(['serve', '--port', String(taken.port)], { SLUICE_DEMO: '0' });
    expectOneClearLine(finished, new RegExp(String(taken.port)), /in use/);
  });

  it('a bad setting', async () => {
    const retries = await runCli(['serve', '--port', '0'], { SLUICE_MAX_RETRIES: 'many' });
    expectOneClearLine(retries, /SLUICE_MAX_RETRIES/);
    const cors = await runCli(['serve', '--demo', '--port', '0'], { SLUICE_CORS_ORIGIN: 'not an origin' });
    expectOneClearLine(cors, /SLUICE_CORS_ORIGIN/);
  });

  it('Redis refusing connections, without showing its password', async () => {
    const port = await freePort();
    const finished = await runCli(['serve', '--demo', '--port', '0'], {
      REDIS_URL: `redis://sluice:hunter2secret@127.0.0.1:${port}/0`,
    });
    const line = expectOneClearLine(finished, /Redis/, /REDIS_URL/);
    expect(`${finished.stdout}${finished.stderr}`).not.toContain('hunter2secret');
    expect(line).toContain(String(port));
  });

  it('Redis that accepts and never answers: gives up within seconds', async () => {
    const started = Date.now();
    const finished = await runCli(
      ['serve', '--port', '0'],
      { REDIS_URL: `redis://127.0.0.1:${silent.port}` },
      15_000,
    );
    expectOneClearLine(finished, /Redis/, /REDIS_URL/);
    expect(Date.now() - started).toBeLessThan(12_000);
  }, 20_000);
});
