import { describe, expect, it } from 'vitest';
import { boundedCache } from './bounded-cache.js';

describe('boundedCache', () => {
  it('computes once per key, starts over past its bound, and remembers only the keys it keeps', () => {
    const computed: string[] = [];
    const lookup = boundedCache(
      2,
      (key) => {
        computed.push(key);
        return { key };
      },
      (key) => !key.includes('?'),
    );
    const first = lookup('a');
    expect(lookup('a')).toBe(first);
    lookup('b');
    expect(computed).toEqual(['a', 'b']);
    // A third key passes the bound: the memory starts over with it.
    lookup('c');
    lookup('a');
    expect(computed).toEqual(['a', 'b', 'c', 'a']);
    // A key not kept is computed every time.
    lookup('x?1');
    lookup('x?1');
    expect(computed.filter((key) => key === 'x?1')).toHaveLength(2);
  });
});
