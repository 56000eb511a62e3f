import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { delayPastInterval, monitorLoopDelay } from './loop-delay.js';

describe('event-loop delay', () => {
  it('counts only what a sample comes past the sampling interval, never below 0', () => {
    expect(delayPastInterval(10_400_000, 10)).toBeCloseTo(0.4, 6);
    expect(delayPastInterval(123_000_000, 100)).toBeCloseTo(23, 6);
    expect(delayPastInterval(9_900_000, 10)).toBe(0);
  });

  it("reads an idle loop as about 0, where Node's histogram reads the interval itself", async () => {
    const intervalMs = 20;
    const raw = monitorEventLoopDelay({ resolution: intervalMs });
    raw.enable();
    const delay = monitorLoopDelay(intervalMs);
    await sleep(300);
    raw.disable();
    expect(delay.count()).toBeGreaterThanOrEqual(5);
    // What the fix is for: the raw samples start at the interval (a timer never runs early by a
    // whole millisecond), so an idle loop's raw median is the interval.
    expect(raw.min / 1e6).toBeGreaterThan(intervalMs - 1);
    expect(raw.percentile(50) / 1e6).toBeGreaterThan(intervalMs - 1);
    expect(delay.percentileMs(50)).toBeLessThan(intervalMs / 2);
    expect(delay.minMs()).toBeLessThan(intervalMs / 2);
    delay.reset();
    expect(delay.count()).toBe(0);
    expect(delay.maxMs()).toBe(0);
    expect(delay.percentileMs(99)).toBe(0);
  });
});
