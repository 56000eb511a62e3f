import { encodeFrame } from '../core/sse-encode.js';
import type { Frame } from '../protocol/frames.js';

/**
 * The frames of one generation, in order, with ids 1..n, as SSE text ready to write. Every
 * reader (the first response, resumed ones) follows the same log, so what a client sees never
 * depends on which connection it came through.
 */
export interface FrameLog {
  /** Id of the last frame appended (0 when empty). */
  readonly lastId: number;
  readonly ended: boolean;
  /** Appends frames (ids assigned in order) and wakes readers once for the batch. */
  append(frames: readonly Frame[]): void;
  /** Marks the log complete: no frame follows. */
  end(): void;
  /** The SSE text of frames with id > afterId, joined (empty string when none). */
  textAfter(afterId: number): string;
  /** The SSE texts of frames with index from..to-1 (ids from+1..to). */
  slice(from: number, to: number): string[];
  /** Calls `listener` after every append and at the end. Returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
  readonly sizeBytes: number;
}

export class MemoryFrameLog implements FrameLog {
  private readonly encoded: string[] = [];
  private readonly listeners = new Set<() => void>();
  private bytes = 0;
  private closed = false;

  constructor(private readonly maxBytes: number) {}

  get lastId(): number {
    return this.encoded.length;
  }

  get ended(): boolean {
    return this.closed;
  }

  get sizeBytes(): number {
    return this.bytes;
  }

  /** Past the bound the generation is ended with an error (terminal frames are still stored). */
  get full(): boolean {
    return this.bytes > this.maxBytes;
  }

  append(frames: readonly Frame[]): void {
    if (this.closed) throw new Error('append to an ended log');
    if (frames.length === 0) return;
    for (const frame of frames) {
      const text = encodeFrame(this.encoded.length + 1, frame);
      this.encoded.push(text);
      this.bytes += text.length;
    }
    this.notify();
  }

  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.notify();
    this.listeners.clear();
  }

  textAfter(afterId: number): string {
    const start = Math.max(0, afterId);
    if (start >= this.encoded.length) return '';
    if (start === this.encoded.length - 1) return this.encoded[start] ?? '';
    return this.encoded.slice(start).join('');
  }

  slice(from: number, to: number): string[] {
    return this.encoded.slice(from, to);
  }

  subscribe(listener: () => void): () => void {
    if (this.closed) return () => {};
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }
}
