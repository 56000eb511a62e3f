import { chunkDataPrefix, encodeChunkFrame, encodeFrame } from '../core/sse-encode.js';
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
  private encoded: string[] = [];
  /** After the end: all frames as one string, and where each frame starts in it. */
  private compacted: { text: string; offsets: Uint32Array } | undefined;
  private readonly listeners = new Set<() => void>();
  private bytes = 0;
  private closed = false;
  /** Provider and model never change within a generation, so a chunk's envelope is built once. */
  private chunkPrefix: string | undefined;

  constructor(private readonly maxBytes: number) {}

  get lastId(): number {
    return this.compacted === undefined ? this.encoded.length : this.compacted.offsets.length - 1;
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
      const id = this.encoded.length + 1;
      let text: string;
      if (frame.event === 'chunk') {
        this.chunkPrefix ??= chunkDataPrefix(frame.data.provider, frame.data.model);
        text = encodeChunkFrame(id, this.chunkPrefix, frame.data.delta_text);
      } else {
        text = encodeFrame(id, frame);
      }
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
    this.compact();
  }

  /**
   * A finished log is kept for resume as one string plus offsets: one object for the garbage
   * collector to trace instead of one per frame, and a resumed read becomes one slice.
   */
  private compact(): void {
    const offsets = new Uint32Array(this.encoded.length + 1);
    let position = 0;
    this.encoded.forEach((text, index) => {
      offsets[index] = position;
      position += text.length;
    });
    offsets[this.encoded.length] = position;
    this.compacted = { text: this.encoded.join(''), offsets };
    this.encoded = [];
  }

  textAfter(afterId: number): string {
    if (this.compacted !== undefined) {
      const { text, offsets } = this.compacted;
      return text.slice(offsets[Math.min(Math.max(0, afterId), offsets.length - 1)]);
    }
    const start = Math.max(0, afterId);
    if (start >= this.encoded.length) return '';
    if (start === this.encoded.length - 1) return this.encoded[start] ?? '';
    return this.encoded.slice(start).join('');
  }

  slice(from: number, to: number): string[] {
    if (this.compacted === undefined) return this.encoded.slice(from, to);
    const { text, offsets } = this.compacted;
    const pieces: string[] = [];
    for (let index = Math.max(0, from); index < Math.min(to, offsets.length - 1); index++) {
      pieces.push(text.slice(offsets[index], offsets[index + 1]));
    }
    return pieces;
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
