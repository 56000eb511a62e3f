import { randomUUID } from 'node:crypto';
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
 * The share of the stored bytes one owner may hold: one client that fills the store can only
 * refuse its own new work, never everyone's.
 */
const OWNER_SHARE = 0.25;

/**
 * Ids are unguessable (122 random bits): knowing one is what lets a client resume or cancel.
 * randomUUID draws from a pooled entropy buffer, several times cheaper than randomBytes.
 */
function newGenerationId(): string {
  return `gen_${randomUUID().replaceAll('-', '')}`;
}

/**
 * The in-process store: running generations plus finished ones kept for resume until their
 * TTL, never evicted before it. Bounded by count and by the bytes finished generations hold;
 * at a bound, new work is refused (503) rather than cutting anyone's resume window short.
 */
export class MemoryStore implements GenerationStore {
  private readonly generations = new Map<string, Generation>();
  private readonly expiry = new Map<string, NodeJS.Timeout>();
  private finishedBytes = 0;
  private readonly ownerBytes = new Map<string, number>();

  constructor(private readonly options: StoreOptions) {}

  start(init: Omit<GenerationInit, 'id'>): Generation | StoreRefusal {
    if (this.generations.size >= this.options.maxGenerations) return 'generations';
    if (this.finishedBytes >= this.options.maxStoredBytes) return 'bytes';
    const owner = init.owner ?? '';
    if ((this.ownerBytes.get(owner) ?? 0) >= this.options.maxStoredBytes * OWNER_SHARE) return 'owner_bytes';
    const generation = new Generation({ ...init, id: newGenerationId() });
    this.generations.set(generation.id, generation);
    generation.onEnd(() => {
      const timer = setTimeout(() => this.remove(generation.id), this.options.ttlMs);
      timer.unref();
      this.expiry.set(generation.id, timer);
      this.account(generation, generation.log.sizeBytes);
    });
    return generation;
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
    this.ownerBytes.clear();
  }

  private remove(id: string): void {
    const timer = this.expiry.get(id);
    if (timer !== undefined) clearTimeout(timer);
    this.expiry.delete(id);
    const generation = this.generations.get(id);
    if (generation !== undefined && !generation.running) this.account(generation, -generation.log.sizeBytes);
    this.generations.delete(id);
  }
}
