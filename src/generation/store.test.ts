import { describe, expect, it } from 'vitest';
import { MemoryStore } from './store.js';

function finish(store: MemoryStore, textBytes: number): string {
  const generation = store.start({
    provider: 'p',
    model: 'm',
    emulated: true,
    maxLogBytes: 1 << 30,
    graceMs: 0,
  });
  if (generation === undefined) throw new Error('store full');
  generation.log.append([
    {
      event: 'chunk',
      data: {
        provider: 'p',
        model: 'm',
        delta_text: 'x'.repeat(textBytes),
        finish_reason: null,
        usage: null,
      },
    },
  ]);
  generation.markEnded();
  return generation.id;
}

describe('generation store bounds', () => {
  it('drops the oldest finished generations past the stored-bytes bound', () => {
    // Each 1000-character answer is held as UTF-16 twice (frame and encoded data): about 4 KB.
    const store = new MemoryStore({ ttlMs: 60_000, maxGenerations: 100, maxStoredBytes: 9000 });
    const ids = [finish(store, 1000), finish(store, 1000), finish(store, 1000)];
    expect(store.get(ids[0] ?? '')).toBeUndefined();
    expect(store.get(ids[2] ?? '')).toBeDefined();
    expect(store.size).toBe(2);
    store.clear();
  });

  it('drops the oldest finished generation past the count bound, and refuses when all are running', () => {
    const store = new MemoryStore({ ttlMs: 60_000, maxGenerations: 2, maxStoredBytes: 1 << 30 });
    const first = finish(store, 10);
    finish(store, 10);
    finish(store, 10);
    expect(store.get(first)).toBeUndefined();
    const running = new MemoryStore({ ttlMs: 60_000, maxGenerations: 1, maxStoredBytes: 1 << 30 });
    expect(
      running.start({ provider: 'p', model: 'm', emulated: true, maxLogBytes: 1024, graceMs: 10 }),
    ).toBeDefined();
    expect(
      running.start({ provider: 'p', model: 'm', emulated: true, maxLogBytes: 1024, graceMs: 10 }),
    ).toBeUndefined();
    store.clear();
    running.clear();
  });

  it('serves a finished log the same as a running one, and its result from the frames', async () => {
    const store = new MemoryStore({ ttlMs: 60_000, maxGenerations: 10, maxStoredBytes: 1 << 30 });
    const generation = store.start({
      provider: 'p',
      model: 'm',
      emulated: true,
      maxLogBytes: 1 << 20,
      graceMs: 0,
    });
    if (generation === undefined) throw new Error('store full');
    for (const text of ['a', 'b\n', 'c\u2028']) {
      generation.log.append([
        {
          event: 'chunk',
          data: { provider: 'p', model: 'm', delta_text: text, finish_reason: null, usage: null },
        },
      ]);
    }
    const read = () => [1, 2, 3].map((id) => generation.log.dataJson(id));
    const before = read();
    expect(before[2]).toBe(
      '{"provider":"p","model":"m","delta_text":"c\\u2028","finish_reason":null,"usage":null}',
    );
    generation.markEnded();
    expect(read()).toEqual(before);
    expect(generation.log.lastId).toBe(3);
    expect(await store.result(generation.id)).toMatchObject({ status: 'done', text: 'ab\nc\u2028' });
    store.clear();
  });
});
