import { describe, expect, it } from 'vitest';
import { randomHex } from './random.js';

describe('randomHex', () => {
  it('gives hex digits of the asked length, never the same twice, across pool refills', () => {
    const seen = new Set<string>();
    // 2,000 draws of 16 bytes: the 4 KB pool is refilled several times on the way.
    for (let index = 0; index < 2000; index++) {
      const hex = randomHex(index % 2 === 0 ? 32 : 16);
      expect(hex).toMatch(index % 2 === 0 ? /^[0-9a-f]{32}$/ : /^[0-9a-f]{16}$/);
      seen.add(hex);
    }
    expect(seen.size).toBe(2000);
  });

  it('spreads its digits evenly', () => {
    const counts = new Map<string, number>();
    const draws = 4000;
    for (let index = 0; index < draws; index++) {
      for (const digit of randomHex(32)) counts.set(digit, (counts.get(digit) ?? 0) + 1);
    }
    expect(counts.size).toBe(16);
    // 8,000 expected per digit; a bias of a few percent would show far outside these bounds.
    for (const count of counts.values()) expect(Math.abs(count - 8000)).toBeLessThan(600);
  });

  it('refuses an odd count or more than a pool', () => {
    expect(() => randomHex(15)).toThrow(RangeError);
    expect(() => randomHex(2 * 4096 + 2)).toThrow(RangeError);
  });
});
