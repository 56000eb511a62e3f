import type { StreamFrame } from './types.js';

/**
 * Frames received but not yet taken by the iterator. A head index instead of `Array.shift`,
 * which is linear per call, with compaction once the consumed part dominates.
 */
export class FrameQueue {
  private items: StreamFrame[] = [];
  private head = 0;
  private waiter: (() => void) | undefined;

  push(frame: StreamFrame): void {
    this.items.push(frame);
    this.wake();
  }

  shift(): StreamFrame | undefined {
    if (this.head >= this.items.length) return undefined;
    const frame = this.items[this.head++];
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return frame;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }

  /** Resolves at the next `push` or `wake`. */
  waitForMore(): Promise<void> {
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }
}
