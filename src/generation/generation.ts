import { Abort, type AbortWatch } from '../core/abort.js';
import { FrameLog, type LogReader } from './log.js';
import { type GenerationResult, resultOf } from './result.js';
import { TokenMeter } from './token-meter.js';

export type CancelReason = 'cancelled' | 'client_gone' | 'shutdown';

/** Why a generation was stopped from outside; the run reads it from the abort signal. */
export class GenerationAbort extends Error {
  constructor(readonly reason: CancelReason) {
    super(`generation stopped: ${reason}`);
    this.name = 'GenerationAbort';
  }
}

export interface GenerationInit {
  id: string;
  provider: string;
  model: string;
  emulated: boolean;
  maxLogBytes: number;
  /** Who asked for it (a client address, later a key): the store shares its bytes fairly between owners. */
  owner?: string;
  /** Grace period after the last reader leaves before the upstream is aborted (0 = at once). */
  graceMs: number;
  /**
   * The request's `cancel_on_disconnect`: once a reader has attached, the last one leaving
   * aborts the upstream at once. The wait for a first reader (`startGrace`) is unchanged.
   */
  cancelOnDisconnect?: boolean;
}

/** What a reader holds of a generation, on this instance or mirrored from another. */
export interface Followable {
  readonly id: string;
  readonly log: LogReader;
  attachReader(): void;
  detachReader(): void;
}

/**
 * One generation's lifetime: its log, its abort controller, its readers and grace timer. The
 * run (run.ts) is the only writer; readers only follow the log.
 */
export class Generation implements Followable {
  readonly id: string;
  readonly provider: string;
  readonly model: string;
  readonly emulated: boolean;
  readonly owner: string;
  readonly createdAt = Date.now();
  readonly log: FrameLog;
  /** Output tokens so far, counted live while something reads them (a budget, a limit). */
  readonly outputTokens = new TokenMeter();
  endedAt: number | undefined;
  private readonly controller = new Abort();
  private readers = 0;
  private graceTimer: NodeJS.Timeout | undefined;
  private readonly graceMs: number;
  private readonly cancelOnDisconnect: boolean;
  private readonly endListeners: (() => void)[] = [];
  private readonly endingListeners: (() => void)[] = [];
  /** Work that must be done before a reader sees `done` (a limit's slot given back). */
  private readonly beforeDoneHooks: (() => Promise<unknown> | undefined)[] = [];
  /** Readers attached through other instances (Redis); the grace period waits for them too. */
  remoteReaders: (() => Promise<number>) | undefined;

  constructor(init: GenerationInit) {
    this.id = init.id;
    this.provider = init.provider;
    this.model = init.model;
    this.emulated = init.emulated;
    this.owner = init.owner ?? '';
    this.graceMs = init.graceMs;
    this.cancelOnDisconnect = init.cancelOnDisconnect ?? false;
    this.log = new FrameLog(init.maxLogBytes);
  }

  /** Aborted when the generation is cancelled, with a `GenerationAbort` as its reason. */
  get signal(): AbortWatch {
    return this.controller;
  }

  get running(): boolean {
    return this.endedAt === undefined;
  }

  /** Stops the upstream request at once; the run ends the log with the matching frames. */
  cancel(reason: CancelReason): boolean {
    if (!this.running || this.controller.aborted) return false;
    this.clearGrace();
    this.controller.abort(new GenerationAbort(reason));
    return true;
  }

  attachReader(): void {
    this.readers++;
    this.clearGrace();
  }

  detachReader(): void {
    this.readers = Math.max(0, this.readers - 1);
    if (this.readers > 0) return;
    if (this.cancelOnDisconnect) this.cancelWithoutReaders();
    else this.startGrace();
  }

  /** `cancel_on_disconnect`: no grace period, only a look for readers on other instances. */
  private cancelWithoutReaders(): void {
    if (!this.running) return;
    if (this.remoteReaders === undefined) {
      this.cancel('client_gone');
      return;
    }
    this.remoteReaders().then(
      (count) => {
        if (this.readers === 0 && count === 0) this.cancel('client_gone');
      },
      () => this.cancel('client_gone'),
    );
  }

  /** A generation started without a reader (POST /api/v1/generations) waits for one within the grace period. */
  startGrace(): void {
    if (!this.running || this.readers > 0 || this.graceTimer !== undefined) return;
    if (this.graceMs === 0) {
      this.cancel('client_gone');
      return;
    }
    this.graceTimer = setTimeout(() => {
      this.graceTimer = undefined;
      if (this.readers > 0) return;
      if (this.remoteReaders === undefined) {
        this.cancel('client_gone');
        return;
      }
      this.remoteReaders().then(
        (count) => {
          if (this.readers > 0) return;
          if (count > 0) this.startGrace();
          else this.cancel('client_gone');
        },
        () => this.cancel('client_gone'),
      );
    }, this.graceMs);
  }

  /** The body of `GET /api/v1/generations/{id}`. */
  result(): GenerationResult {
    return {
      ...resultOf(this.id, this.log.all(), !this.running),
      provider: this.provider,
      model: this.model,
      emulated: this.emulated,
    };
  }

  /**
   * Runs `hook` before the terminal `done` is written, so a client that starts its next
   * generation the moment it reads `done` finds what this one held already given back.
   */
  beforeDone(hook: () => Promise<unknown> | undefined): void {
    this.beforeDoneHooks.push(hook);
  }

  /**
   * Runs the `beforeDone` hooks. Those done at once (a slot in this process) return nothing and
   * nothing is awaited; otherwise the promise settles when they have, or after `timeoutMs`: a slow
   * store never holds `done` back long.
   */
  settleBeforeDone(timeoutMs: number): Promise<void> | undefined {
    if (this.beforeDoneHooks.length === 0) return undefined;
    const pending: Promise<unknown>[] = [];
    for (const hook of this.beforeDoneHooks.splice(0)) {
      const settling = hook();
      if (settling !== undefined) pending.push(settling);
    }
    if (pending.length === 0) return undefined;
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      Promise.allSettled(pending),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]).then(() => clearTimeout(timer));
  }

  /** Called once the generation ended, its log compacted (its bytes final). */
  onEnd(listener: () => void): void {
    if (this.running) this.endListeners.push(listener);
    else listener();
  }

  /**
   * Called once the generation ended, before `onEnd` listeners: its readers were woken, and its
   * frames are still the objects the run appended, so a listener that reads the terminal ones
   * does not parse them back from JSON.
   */
  onEnding(listener: () => void): void {
    if (this.running) this.endingListeners.push(listener);
    else listener();
  }

  /** Called once by the run after the terminal frames are in the log. */
  markEnded(): void {
    if (!this.running) return;
    this.endedAt = Date.now();
    this.clearGrace();
    this.log.close();
    for (const listener of this.endingListeners.splice(0)) listener();
    this.log.compact();
    for (const listener of this.endListeners.splice(0)) listener();
  }

  private clearGrace(): void {
    if (this.graceTimer !== undefined) {
      clearTimeout(this.graceTimer);
      this.graceTimer = undefined;
    }
  }
}
