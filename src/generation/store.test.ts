import { describe, expect, it } from 'vitest';
import { GenerationStore } from './store.js';

function finish(store: GenerationStore, textBytes: number): string {
  const generation = store.create({
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
    const store = new GenerationStore({ ttlMs: 60_000, maxGenerations: 100, maxStoredBytes: 3000 });
    const ids = [finish(store, 1000), finish(store, 1000), finish(store, 1000)];
    expect(store.get(ids[0] ?? '')).toBeUndefined();
    expect(store.get(ids[2] ?? '')).toBeDefined();
    expect(store.size).toBe(2);
    store.clear();
  });

  it('drops the oldest finished generation past the count bound, and refuses when all are running', () => {
    const store = new GenerationStore({ ttlMs: 60_000, maxGenerations: 2, maxStoredBytes: 1 << 30 });
    const first = finish(store, 10);
    finish(store, 10);
    finish(store, 10);
    expect(store.get(first)).toBeUndefined();
    const running = new GenerationStore({ ttlMs: 60_000, maxGenerations: 1, maxStoredBytes: 1 << 30 });
    expect(
      running.create({ provider: 'p', model: 'm', emulated: true, maxLogBytes: 1024, graceMs: 10 }),
    ).toBeDefined();
    expect(
      running.create({ provider: 'p', model: 'm', emulated: true, maxLogBytes: 1024, graceMs: 10 }),
    ).toBeUndefined();
    store.clear();
    running.clear();
  });

  it('serves a finished log compacted, the same as before', () => {
    const store = new GenerationStore({ ttlMs: 60_000, maxGenerations: 10, maxStoredBytes: 1 << 30 });
    const generation = store.create({
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
    const before = [0, 1, 2, 3, 4].map((afterId) => generation.log.textAfter(afterId));
    const slices = generation.log.slice(1, 3);
    generation.markEnded();
    expect([0, 1, 2, 3, 4].map((afterId) => generation.log.textAfter(afterId))).toEqual(before);
    expect(generation.log.slice(1, 3)).toEqual(slices);
    expect(generation.log.lastId).toBe(3);
    store.clear();
  });
});
