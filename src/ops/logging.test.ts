import { afterEach, describe, expect, it, vi } from 'vitest';
import { isoTimeBySecond } from './logging.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('isoTimeBySecond', () => {
  it('writes what toISOString writes, across milliseconds, seconds and days', () => {
    vi.useFakeTimers();
    const time = isoTimeBySecond();
    const start = Date.UTC(2026, 10, 27, 23, 59, 58, 990);
    for (const offset of [0, 5, 9, 10, 11, 99, 100, 999, 1009, 1010, 1999, 2000, 2001, 86_400_000, 7]) {
      vi.setSystemTime(start + offset);
      expect(time()).toBe(`,"time":"${new Date(start + offset).toISOString()}"`);
    }
  });
});
