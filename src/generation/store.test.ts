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
  it('past the stored-bytes bound, refuses the owners holding their share, never the others, and keeps every finished generation', () => {
    // Each finished 1000-character answer is held as its text: 1040 bytes.
    const store = new MemoryStore({ ttlMs: 60_000, maxGenerations: 100, maxStoredBytes: 3000 });
    const start = (owner: string) =>
      store.start({ provider: 'p', model: 'm', emulated: true, maxLogBytes: 1024, owner, graceMs: 0 });
    // One client alone may use the whole bound.
    const ids = [finish(store, 1000, 'a'), finish(store, 1000, 'a'), finish(store, 1000, 'a')];
    expect(store.size).toBe(3);
    expect(start('a')).toBe('owner_bytes');
    // A client that holds nothing still gets in past the bound, up to twice the bound for all.
    finish(store, 1000, 'b');
    finish(store, 1000, 'c');
    expect(start('a')).toBe('owner_bytes');
    finish(store, 1000, 'd');
    expect(start('e')).toBe('bytes');
    for (const id of ids) expect(store.get(id)).toBeDefined();
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
