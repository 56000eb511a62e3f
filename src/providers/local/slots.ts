/**
 * The local model's slots (context sequences: generations that run at once) and the bounded
 * line of requests waiting for one, first come first served. A waiting request whose signal
 * aborts leaves the line at once, and everyone behind it moves up.
 */

interface Waiter {
  grant(slot: number): void;
  /** Told how many requests are ahead whenever that changes. */
  onPosition: ((ahead: number) => void) | undefined;
}

export class SlotQueue {
  private readonly free: number[];
  private readonly line: Waiter[] = [];

  constructor(
    private readonly slots: number,
    private readonly maxWaiting: number,
  ) {
    this.free = Array.from({ length: slots }, (_, slot) => slot);
  }

  get running(): number {
    return this.slots - this.free.length;
  }

  get waiting(): number {
    return this.line.length;
  }

  /** A request arriving now would get a slot or a place in line. */
  get hasRoom(): boolean {
    return this.free.length > 0 || this.line.length < this.maxWaiting;
  }

  /**
   * A slot, now or when one frees up; rejects with the signal's reason when it aborts first.
   * `undefined` when every slot is busy and the line is full: the caller refuses the request.
   */
  acquire(signal: AbortSignal, onPosition?: (ahead: number) => void): Promise<number> | undefined {
    if (signal.aborted) return Promise.reject(signal.reason);
    const slot = this.free.shift();
    if (slot !== undefined) return Promise.resolve(slot);
    if (this.line.length >= this.maxWaiting) return undefined;
    return new Promise<number>((resolve, reject) => {
      const waiter: Waiter = {
        grant: (granted) => {
          signal.removeEventListener('abort', leave);
          resolve(granted);
        },
        onPosition,
      };
      const leave = (): void => {
        const index = this.line.indexOf(waiter);
        if (index !== -1) {
          this.line.splice(index, 1);
          this.announce(index);
        }
        reject(signal.reason);
      };
      signal.addEventListener('abort', leave, { once: true });
      this.line.push(waiter);
      onPosition?.(this.line.length - 1);
    });
  }

  /** Hands the slot to the first in line, or frees it. */
  release(slot: number): void {
    const next = this.line.shift();
    if (next === undefined) {
      this.free.push(slot);
      return;
    }
    next.grant(slot);
    this.announce(0);
  }

  /** Every waiter from `from` on moved up one place. */
  private announce(from: number): void {
    for (let index = from; index < this.line.length; index++) this.line[index]?.onPosition?.(index);
  }
}
