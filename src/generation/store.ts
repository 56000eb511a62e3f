import { randomUUID } from 'node:crypto';
import { type Followable, Generation, type GenerationInit } from './generation.js';
import type { GenerationResult } from './result.js';

/** How a cancel request ended. */
export type CancelOutcome = 'cancelled' | 'stopping' | 'ended' | 'unknown';

/**
 * Where generations live: the one interface the server asks, whether they are held in this
 * process alone or shared with other instances through Redis.
 */
export interface GenerationStore {
  /** Registers a generation this instance runs; undefined when the store is full of running ones. */
  start(init: Omit<GenerationInit, 'id'>): Generation | undefined;
  /** A generation to read, wherever it runs; undefined when unknown or expired. */
  follow(id: string): Promise<Followable | undefined>;
  /** Stops a running generation, wherever it runs. */
  cancel(id: string): Promise<CancelOutcome>;
  /** The accumulated result; undefined when unknown or expired. */
  result(id: string): Promise<GenerationResult | undefined>;
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
  /** Most bytes of frames kept for finished generations; past it the oldest go first. */
  maxStoredBytes: number;
}

/**
 * Ids are unguessable (122 random bits): knowing one is what lets a client resume or cancel.
 * randomUUID draws from a pooled entropy buffer, several times cheaper than randomBytes.
 */
function newGenerationId(): string {
  return `gen_${randomUUID().replaceAll('-', '')}`;
}

/**
 * The in-process store: running generations plus finished ones kept for resume until their
 * TTL. Bounded: past `maxGenerations`, the oldest finished one is dropped; when every slot is
 * running, new generations are refused.
 */
export class MemoryStore implements GenerationStore {
  private readonly generations = new Map<string, Generation>();
  private readonly expiry = new Map<string, NodeJS.Timeout>();
  private finishedBytes = 0;

  constructor(private readonly options: StoreOptions) {}

  start(init: Omit<GenerationInit, 'id'>): Generation | undefined {
    if (this.generations.size >= this.options.maxGenerations && !this.evictOldestFinished()) return undefined;
    const generation = new Generation({ ...init, id: newGenerationId() });
    this.generations.set(generation.id, generation);
    generation.onEnd(() => {
      const timer = setTimeout(() => this.remove(generation.id), this.options.ttlMs);
      timer.unref();
      this.expiry.set(generation.id, timer);
      this.finishedBytes += generation.log.sizeBytes;
      while (this.finishedBytes > this.options.maxStoredBytes && this.evictOldestFinished()) {
        // evicted one; check the bound again
      }
    });
    return generation;
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

  get size(): number {
    return this.generations.size;
  }

  running(): Generation[] {
    return [...this.generations.values()].filter((generation) => generation.running);
  }

  async close(): Promise<void> {
    this.clear();
  }

  /** Drops everything, synchronously. */
  clear(): void {
    for (const timer of this.expiry.values()) clearTimeout(timer);
    this.expiry.clear();
    this.generations.clear();
    this.finishedBytes = 0;
  }

  private remove(id: string): void {
    const timer = this.expiry.get(id);
    if (timer !== undefined) clearTimeout(timer);
    this.expiry.delete(id);
    const generation = this.generations.get(id);
    if (generation !== undefined && !generation.running) this.finishedBytes -= generation.log.sizeBytes;
    this.generations.delete(id);
  }

  private evictOldestFinished(): boolean {
    // Map iteration is insertion order, so the first finished one is the oldest.
    for (const generation of this.generations.values()) {
      if (!generation.running) {
        this.remove(generation.id);
        return true;
      }
    }
    return false;
  }
}
