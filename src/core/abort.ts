/**
 * What an abortable operation watches. An `AbortSignal` has this shape, and so has `Abort`
 * below, so code that only watches for an abort takes either.
 */
export interface AbortWatch {
  readonly aborted: boolean;
  readonly reason: unknown;
  /** Like `AbortSignal`: a listener added after the abort is not called. */
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * An abort controller and its signal in one small object, for the gateway's own plumbing (a
 * generation, each upstream attempt): a Node `AbortController` with its `AbortSignal` costs a
 * few microseconds to make and to listen to, on every stream. A real `AbortSignal` is made only
 * for an API that needs one (`signal`), and follows this one.
 */
export class Abort implements AbortWatch {
  aborted = false;
  reason: unknown = undefined;
  private listeners: (() => void)[] | undefined;
  private controller: AbortController | undefined;

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
    // As an EventTarget does, a listener removed by an earlier one is not called.
    const listeners = this.listeners;
    if (listeners === undefined) return;
    for (let listener = listeners.shift(); listener !== undefined; listener = listeners.shift()) listener();
    this.listeners = undefined;
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    if (this.aborted) return;
    if (this.listeners === undefined) this.listeners = [listener];
    else this.listeners.push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const listeners = this.listeners;
    if (listeners === undefined) return;
    const index = listeners.indexOf(listener);
    if (index !== -1) listeners.splice(index, 1);
  }

  /** A real `AbortSignal` that aborts with this, with the same reason. */
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }
}
