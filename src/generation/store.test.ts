import { describe, expect, it } from 'vitest';
import { MemoryStore } from './store.js';

function finish(store: MemoryStore, textBytes: number, owner = 'a'): string {
  const generation = store.start({
    provider: 'p',
    model: 'm',
    emulated: true,
    maxLogBytes: 1 << 30,
    owner,
    graceMs: 0,
  });
  if (typeof generation === 'string') throw new Error(`store refused: ${generation}`);
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
  it('refuses new work past the stored-bytes bound, and keeps every finished generation', () => {
    // Each finished 1000-character answer is held compacted: its data JSON and offsets, 1350 bytes.
    const store = new MemoryStore({ ttlMs: 60_000, maxGenerations: 100, maxStoredBytes: 13_000 });
    const ids = [finish(store, 1000, 'a'), finish(store, 1000, 'a'), finish(store, 1000, 'a')];
    // One owner holds a quarter of the store at most: its own new work is refused, no one else's.
    expect(
      store.start({ provider: 'p', model: 'm', emulated: true, maxLogBytes: 1024, owner: 'a', graceMs: 0 }),
    ).toBe('owner_bytes');
    for (const owner of ['b', 'c', 'd', 'e', 'f', 'g', 'h']) finish(store, 1000, owner);
    expect(
      store.start({ provider: 'p', model: 'm', emulated: true, maxLogBytes: 1024, owner: 'z', graceMs: 0 }),
    ).toBe('bytes');
    for (const id of ids) expect(store.get(id)).toBeDefined();
    expect(store.size).toBe(10);
    store.clear();
  });

  it('refuses new work past the count bound, and keeps every finished generation', () => {
    const store = new MemoryStore({ ttlMs: 60_000, maxGenerations: 2, maxStoredBytes: 1 << 30 });
    const first = finish(store, 10);
    finish(store, 10);
    expect(store.start({ provider: 'p', model: 'm', emulated: true, maxLogBytes: 1024, graceMs: 10 })).toBe(
      'generations',
    );
    expect(store.get(first)).toBeDefined();
    store.clear();
  });

  it('frees an expired generation for new work', async () => {
    const store = new MemoryStore({ ttlMs: 20, maxGenerations: 1, maxStoredBytes: 1 << 30 });
    const first = finish(store, 10);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(store.get(first)).toBeUndefined();
    expect(typeof finish(store, 10)).toBe('string');
    store.clear();
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
    if (typeof generation === 'string') throw new Error('store full');
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
      '{"type":"chunk","provider":"p","model":"m","delta_text":"c\\u2028","finish_reason":null,"usage":null}',
    );
    generation.markEnded();
    expect(read()).toEqual(before);
    expect(generation.log.lastId).toBe(3);
    expect(await store.result(generation.id)).toMatchObject({ status: 'done', text: 'ab\nc\u2028' });
    store.clear();
  });
});
