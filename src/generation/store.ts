import { randomHex } from '../core/random.js';
import { type Followable, Generation, type GenerationInit } from './generation.js';
import type { GenerationResult } from './result.js';

/** How a cancel request ended. */
export type CancelOutcome = 'cancelled' | 'stopping' | 'ended' | 'unknown';

/**
 * Where generations live: the one interface the server asks, whether they are held in this
 * process alone or shared with other instances through Redis.
 */
/** Why a store refused new work. */
export type StoreRefusal = 'generations' | 'bytes' | 'owner_bytes';

export interface GenerationStore {
  /**
   * Registers a generation this instance runs, or says why not: the store is full, and the
   * promise made to generations already held (their resume window) is kept over new work.
   */
  start(init: Omit<GenerationInit, 'id'>): Generation | StoreRefusal;
  /** A generation to read, wherever it runs; undefined when unknown or expired. */
  follow(id: string): Promise<Followable | undefined>;
  /** Stops a running generation, wherever it runs. */
  cancel(id: string): Promise<CancelOutcome>;
  /** The accumulated result; undefined when unknown or expired. */
  result(id: string): Promise<GenerationResult | undefined>;
  /** Who started a generation (a key id, or a client address); undefined when unknown or expired. */
  ownerOf(id: string): Promise<string | undefined>;
  /** Whether the store can take work (Redis, when used, answers). */
  ready(): Promise<boolean>;
  /** The generations this instance runs that have not ended. */
  running(): Generation[];
  /** Generations held by this instance (running and resumable). */
  readonly size: number;
  /** Drops everything and releases connections (on shutdown). */
  close(): Promise<void>;
}

export interface StoreOptions {
  /** How long a finished generation stays readable (resume, result). */
  ttlMs: number;
  /** Most generations held at once, running and finished. */
  maxGenerations: number;
  /** Most bytes of frames held for finished generations; past it, new work is refused. */
  maxStoredBytes: number;
}

/**
 * Past the bytes bound, owners still under their fair share may go on up to this many times the
 * bound, so one client that fills the store refuses its own new work, never everyone's.
 */
const HARD_BOUND_FACTOR = 2;

/** Ids are unguessable (128 random bits): knowing one is what lets a client resume or cancel. */
function newGenerationId(): string {
  return `gen_${randomHex(32)}`;
}

/**
 * The in-process store: running generations plus finished ones kept for resume until their
 * TTL, never evicted before it. Bounded by count and by the bytes finished generations hold;
 * at a bound, new work is refused (503) rather than cutting anyone's resume window short.
 */
export class MemoryStore implements GenerationStore {
  private readonly generations = new Map<string, Generation>();
  private readonly runningNow = new Set<Generation>();
  /** Finished generations in the order they ended, each with when it expires; `head` is the oldest. */
  private expiries: { id: string; at: number }[] = [];
  private head = 0;
  /** One sweep for every expiry, running while something waits to expire. */
  private sweeper: NodeJS.Timeout | undefined;
  private finishedBytes = 0;
  private readonly ownerBytes = new Map<string, number>();

  constructor(private readonly options: StoreOptions) {}

  /**
   * Below the bytes bound everyone starts work. Past it, the store is shared fairly: an owner
   * (a client address, or a key) holding at least an equal share of the bound among the owners
   * that hold something is refused, the others still start, up to twice the bound for all.
   */
  start(init: Omit<GenerationInit, 'id'>): Generation | StoreRefusal {
    if (this.generations.size >= this.options.maxGenerations) return 'generations';
    const owner = init.owner ?? '';
    const bound = this.options.maxStoredBytes;
    if (this.finishedBytes >= bound) {
      if (this.finishedBytes >= HARD_BOUND_FACTOR * bound) return 'bytes';
      const fairShare = bound / Math.max(1, this.ownerBytes.size);
      if ((this.ownerBytes.get(owner) ?? 0) >= fairShare) return 'owner_bytes';
    }
    const generation = new Generation({ id: newGenerationId(), ...init });
    this.generations.set(generation.id, generation);
    this.runningNow.add(generation);
    generation.onEnd(() => {
      this.runningNow.delete(generation);
      if (this.generations.get(generation.id) !== generation) return;
      this.expiries.push({ id: generation.id, at: Date.now() + this.options.ttlMs });
      this.account(generation, generation.log.sizeBytes);
      this.sweeper ??= setInterval(() => this.sweep(), Math.max(10, Math.min(1000, this.options.ttlMs / 4)));
      this.sweeper.unref();
    });
    return generation;
  }

  /** Drops the generations whose resume window has passed, oldest first. */
  private sweep(): void {
    const now = Date.now();
    while (this.head < this.expiries.length && (this.expiries[this.head]?.at ?? 0) <= now) {
      const expired = this.expiries[this.head];
      this.head++;
      if (expired !== undefined) this.remove(expired.id);
    }
    if (this.head > 1024 && this.head * 2 > this.expiries.length) {
      this.expiries = this.expiries.slice(this.head);
      this.head = 0;
    }
    if (this.head >= this.expiries.length) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
      this.expiries = [];
      this.head = 0;
    }
  }

  private account(generation: Generation, bytes: number): void {
    this.finishedBytes += bytes;
    const held = (this.ownerBytes.get(generation.owner) ?? 0) + bytes;
    if (held > 0) this.ownerBytes.set(generation.owner, held);
    else this.ownerBytes.delete(generation.owner);
  }

  /** A generation held here (running or finished), synchronously. */
  get(id: string): Generation | undefined {
    return this.generations.get(id);
  }

  async follow(id: string): Promise<Followable | undefined> {
    return this.generations.get(id);
  }

  async cancel(id: string): Promise<CancelOutcome> {
    return this.cancelHere(id) ?? 'unknown';
  }

  /** Cancels a generation held here; undefined when it is not. */
  cancelHere(id: string): Exclude<CancelOutcome, 'unknown'> | undefined {
    const generation = this.generations.get(id);
    if (generation === undefined) return undefined;
    if (generation.cancel('cancelled')) return 'cancelled';
    return generation.running ? 'stopping' : 'ended';
  }

  async result(id: string): Promise<GenerationResult | undefined> {
    return this.generations.get(id)?.result();
  }

  async ownerOf(id: string): Promise<string | undefined> {
    return this.generations.get(id)?.owner;
  }

  async ready(): Promise<boolean> {
    return true;
  }

  get size(): number {
    return this.generations.size;
  }

  running(): Generation[] {
    return [...this.runningNow];
  }

  async close(): Promise<void> {
    this.clear();
  }

  /** Drops everything, synchronously. */
  clear(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    this.expiries = [];
    this.head = 0;
    this.generations.clear();
    this.runningNow.clear();
    this.finishedBytes = 0;
    this.ownerBytes.clear();
  }

  private remove(id: string): void {
    const generation = this.generations.get(id);
    if (generation === undefined || generation.running) return;
    this.account(generation, -generation.log.sizeBytes);
    this.generations.delete(id);
  }
}
