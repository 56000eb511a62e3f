import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { holdUntilTurnEnd, Lane, MAX_DEFERRED_BYTES, MAX_DEFERRED_TASKS, SLICE_MS } from './turns.js';

/** Keeps the thread busy for `ms`, as a task handling an upstream read does. */
function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

/** Resolves once every waiting task has run (the queue drains in slices, one per turn). */
async function settled(): Promise<void> {
  for (let turn = 0; turn < 10_000; turn++) await new Promise((resolve) => setImmediate(resolve));
}

/** Two ends of a real TCP connection on 127.0.0.1, and a way to close both and the server. */
async function socketPair(): Promise<{ client: Socket; accepted: Socket; close(): void }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const client = connect(port, '127.0.0.1');
  const [accepted] = (await once(server, 'connection')) as [Socket];
  await once(client, 'connect');
  return {
    client,
    accepted,
    close() {
      client.destroy();
      accepted.destroy();
      server.close();
    },
  };
}

describe('lanes', () => {
  it('run a task at once when asked and nothing of the lane waits; otherwise after what waits, in order', async () => {
    const ran: string[] = [];
    const push = (name: string): number => ran.push(name);
    const first = new Lane();
    const second = new Lane();
    first.run(push, 'first 1', 0, true);
    expect(ran).toEqual(['first 1']);
    first.run(push, 'first 2', 10, false);
    // A task that may run at once still waits behind its own lane's waiting task...
    first.run(push, 'first 3', 0, true);
    // ...while another lane's runs at once.
    second.run(push, 'second 1', 0, true);
    expect(ran).toEqual(['first 1', 'second 1']);
    expect(first.waiting).toBe(2);
    await settled();
    expect(ran).toEqual(['first 1', 'second 1', 'first 2', 'first 3']);
    expect(first.waiting).toBe(0);
  });

  it('run waiting tasks in slices: a socket read is handled between them, before the last', async () => {
    const { client, accepted, close } = await socketPair();
    let done = 0;
    let doneWhenRead = -1;
    accepted.on('data', () => {
      doneWhenRead = done;
    });
    // 40 slices' worth of work (each task a fifth of a slice).
    const lane = new Lane();
    const tasks = 200;
    for (let index = 0; index < tasks; index++)
      lane.run(
        () => {
          spin(SLICE_MS / 5);
          done++;
        },
        undefined,
        0,
        false,
      );
    client.write('new request');
    await settled();
    expect(done).toBe(tasks);
    expect(doneWhenRead).toBeGreaterThanOrEqual(0);
    expect(doneWhenRead).toBeLessThan(tasks);
    close();
  });

  it('run everything waiting at once when the count bound is reached, keeping each lane in order', async () => {
    const ran: number[] = [];
    const push = (index: number): number => ran.push(index);
    const lane = new Lane();
    for (let index = 0; index < MAX_DEFERRED_TASKS; index++) lane.run(push, index, 1, false);
    expect(ran).toHaveLength(0);
    lane.run(push, MAX_DEFERRED_TASKS, 1, false);
    // The full queue ran inside that call; the new task waits alone.
    expect(ran).toHaveLength(MAX_DEFERRED_TASKS);
    expect(lane.waiting).toBe(1);
    await settled();
    expect(ran).toEqual(Array.from({ length: MAX_DEFERRED_TASKS + 1 }, (_, index) => index));
  });

  it('run everything waiting at once when the bytes they hold would pass the bound', async () => {
    const ran: string[] = [];
    const push = (name: string): number => ran.push(name);
    const lane = new Lane();
    lane.run(push, 'held', MAX_DEFERRED_BYTES - 10, false);
    lane.run(push, 'small', 10, false);
    expect(ran).toEqual([]);
    lane.run(push, 'over', 1, false);
    expect(ran).toEqual(['held', 'small']);
    await settled();
    expect(ran).toEqual(['held', 'small', 'over']);
  });
});

describe('held writes', () => {
  it('reach the peer at the end of the slice they were written in', async () => {
    const { client, accepted, close } = await socketPair();
    const received: string[] = [];
    client.on('data', (data: Buffer) => received.push(data.toString()));
    const lane = new Lane();
    let corkedInTask = -1;
    lane.run(
      () => {
        holdUntilTurnEnd(accepted);
        accepted.write('a');
        accepted.write('b');
        corkedInTask = accepted.writableCorked;
      },
      undefined,
      0,
      false,
    );
    await settled();
    const deadline = Date.now() + 2000;
    while (received.join('') !== 'ab' && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 5));
    expect(corkedInTask).toBe(1);
    expect(accepted.writableCorked).toBe(0);
    expect(received.join('')).toBe('ab');
    close();
  });
});
