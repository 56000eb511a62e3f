import { describe, expect, it } from 'vitest';
import { SlotQueue } from './slots.js';

describe('local model slots', () => {
  it('hands out free slots at once, then queues first come first served, up to the bound', async () => {
    const queue = new SlotQueue(1, 2);
    const signal = new AbortController().signal;
    expect(await queue.acquire(signal)).toBe(0);
    const positions: number[][] = [[], []];
    const second = queue.acquire(signal, (ahead) => positions[0]?.push(ahead));
    const third = queue.acquire(signal, (ahead) => positions[1]?.push(ahead));
    expect(queue.acquire(signal)).toBeUndefined();
    expect(queue.hasRoom).toBe(false);
    expect([queue.running, queue.waiting]).toEqual([1, 2]);
    const order: string[] = [];
    void second?.then(() => order.push('second'));
    void third?.then(() => order.push('third'));
    queue.release(0);
    expect(await second).toBe(0);
    queue.release(0);
    expect(await third).toBe(0);
    expect(order).toEqual(['second', 'third']);
    expect(positions).toEqual([[0], [1, 0]]);
    queue.release(0);
    expect([queue.running, queue.waiting, queue.hasRoom]).toEqual([0, 0, true]);
  });

  it('a waiter whose signal aborts leaves the line at once, rejected with the reason; those behind move up', async () => {
    const queue = new SlotQueue(1, 4);
    const open = new AbortController().signal;
    await queue.acquire(open);
    const leaving = new AbortController();
    const positions: number[] = [];
    const first = queue.acquire(leaving.signal);
    const behind = queue.acquire(open, (ahead) => positions.push(ahead));
    expect(queue.waiting).toBe(2);
    const reason = new Error('cancelled');
    leaving.abort(reason);
    await expect(first).rejects.toBe(reason);
    expect(queue.waiting).toBe(1);
    expect(positions).toEqual([1, 0]);
    queue.release(0);
    expect(await behind).toBe(0);
  });

  it('refuses at once a signal that is already aborted', async () => {
    const queue = new SlotQueue(2, 0);
    const controller = new AbortController();
    controller.abort(new Error('gone'));
    await expect(queue.acquire(controller.signal)).rejects.toThrow('gone');
    expect(queue.running).toBe(0);
  });
});
