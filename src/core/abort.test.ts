import { describe, expect, it } from 'vitest';
import { Abort, type AbortWatch } from './abort.js';

/** What a watcher sees: calls of its listener, and the state when it was called. */
function watch(target: AbortWatch): { calls: unknown[]; listener: () => void } {
  const calls: unknown[] = [];
  const listener = (): void => {
    calls.push(target.reason);
  };
  target.addEventListener('abort', listener, { once: true });
  return { calls, listener };
}

describe('Abort', () => {
  it('behaves as an AbortController and its signal do, side by side', () => {
    const reason = new Error('stop');
    const ours = new Abort();
    const theirs = new AbortController();
    const watchers = [watch(ours), watch(theirs.signal)];
    const removed = [watch(ours), watch(theirs.signal)];
    ours.removeEventListener('abort', removed[0]?.listener ?? (() => {}));
    theirs.signal.removeEventListener('abort', removed[1]?.listener ?? (() => {}));
    expect([ours.aborted, theirs.signal.aborted]).toEqual([false, false]);

    ours.abort(reason);
    theirs.abort(reason);
    ours.abort(new Error('again'));
    theirs.abort(new Error('again'));
    expect([ours.aborted, theirs.signal.aborted]).toEqual([true, true]);
    expect([ours.reason, theirs.signal.reason]).toEqual([reason, reason]);
    expect(watchers.map((watcher) => watcher.calls)).toEqual([[reason], [reason]]);
    expect(removed.map((watcher) => watcher.calls)).toEqual([[], []]);
    // A listener added after the abort is not called, by either.
    const late = [watch(ours), watch(theirs.signal)];
    expect(late.map((watcher) => watcher.calls)).toEqual([[], []]);
  });

  it('gives a real AbortSignal that follows it, made before or after the abort', () => {
    const before = new Abort();
    const early = before.signal;
    expect(early).toBeInstanceOf(AbortSignal);
    expect(early.aborted).toBe(false);
    before.abort('gone');
    expect([early.aborted, early.reason]).toEqual([true, 'gone']);

    const after = new Abort();
    after.abort('late');
    expect([after.signal.aborted, after.signal.reason]).toEqual([true, 'late']);
    expect(after.signal).toBe(after.signal);
  });

  it('calls each listener once, in the order they were added, and lets one remove another', () => {
    const abort = new Abort();
    const order: string[] = [];
    const second = (): void => {
      order.push('second');
    };
    abort.addEventListener('abort', () => {
      order.push('first');
      abort.removeEventListener('abort', removedByFirst);
    });
    const removedByFirst = (): void => {
      order.push('removed');
    };
    abort.addEventListener('abort', removedByFirst);
    abort.addEventListener('abort', second);
    abort.addEventListener('abort', () => {
      order.push('third');
    });
    abort.abort(undefined);
    abort.abort(undefined);
    expect(order).toEqual(['first', 'second', 'third']);
  });
});
