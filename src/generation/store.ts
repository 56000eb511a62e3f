import { randomUUID } from 'node:crypto';
import { Generation, type GenerationInit } from './generation.js';

export interface StoreOptions {
  /** How long a finished generation stays readable (resume, result). */
  ttlMs: number;
  /** Most generations held at once, running and finished. */
  maxGenerations: number;
  /** Most bytes of frames kept for finished generations; past it the oldest go first. */
  maxStoredBytes: number;
}

/**
 * The in-process generation store: running generations plus finished ones kept for resume
 * until their TTL. Bounded: past `maxGenerations`, the oldest finished one is dropped; when
 * every slot is running, new generations are refused.
 */
export class GenerationStore {
  private readonly generations = new Map<string, Generation>();
  private readonly expiry = new Map<string, NodeJS.Timeout>();
  private finishedBytes = 0;

  constructor(private readonly options: StoreOptions) {}

  /**
   * Ids are unguessable (122 random bits): knowing one is what lets a client resume or cancel.
   * randomUUID draws from a pooled entropy buffer, several times cheaper than randomBytes.
   */
  static newId(): string {
    return `gen_${randomUUID().replaceAll('-', '')}`;
  }

  /** Creates and registers a generation, or returns undefined when the store is full of running ones. */
  create(init: Omit<GenerationInit, 'id'>): Generation | undefined {
    if (this.generations.size >= this.options.maxGenerations && !this.evictOldestFinished()) return undefined;
    const generation = new Generation({ ...init, id: GenerationStore.newId() });
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

  get(id: string): Generation | undefined {
    return this.generations.get(id);
  }

  get activeCount(): number {
    let count = 0;
    for (const generation of this.generations.values()) if (generation.running) count++;
    return count;
  }

  get size(): number {
    return this.generations.size;
  }

  running(): Generation[] {
    return [...this.generations.values()].filter((generation) => generation.running);
  }

  /** Drops everything (used on close). */
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
