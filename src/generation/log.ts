import { chunkDataJson, chunkDataPrefix, encodeFrameData } from '../core/sse-encode.js';
import type { Frame } from '../protocol/frames.js';

/**
 * The read-only side of a generation's log: what every reader (an SSE response, a resumed one,
 * another output form, a mirror into Redis) follows. Frames have ids 1..n without gaps.
 */
export interface LogReader {
  /** Id of the last frame appended (0 when empty). */
  readonly lastId: number;
  /** No frame follows. */
  readonly ended: boolean;
  /** The frame with this id (1..lastId). */
  frame(id: number): Frame;
  /**
   * The compact JSON of that frame's `data`, as every output form writes it: encoded once per
   * frame while the generation runs, however many readers follow it.
   */
  dataJson(id: number): string;
  /** Calls `listener` after every append and at the end. Returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
}

/** Bytes a stored frame holds beyond its strings (object, array slots, cached JSON envelope). */
const FRAME_OVERHEAD_BYTES = 160;

/**
 * What a frame costs to hold, in bytes: its object plus its text (UTF-16, two bytes a
 * character) twice, once in the frame and once in its cached JSON.
 */
function frameBytes(frame: Frame): number {
  switch (frame.event) {
    case 'chunk':
    case 'thinking':
      return FRAME_OVERHEAD_BYTES + 4 * frame.data.delta_text.length;
    case 'tool_call':
      return FRAME_OVERHEAD_BYTES + 4 * (frame.data.arguments.length + frame.data.name.length);
    case 'error':
      return FRAME_OVERHEAD_BYTES + 4 * frame.data.message.length;
    default:
      return 2 * FRAME_OVERHEAD_BYTES;
  }
}

/**
 * The frames of one generation, in order, as objects. Written by one producer (the run, or a
 * mirror of a generation another instance runs); read by any number of readers.
 */
export class FrameLog implements LogReader {
  private readonly frames: Frame[] = [];
  /** The data JSON of each frame, filled on first use; dropped at the end (finished logs are read rarely). */
  private json: (string | undefined)[] = [];
  private readonly listeners = new Set<() => void>();
  private bytes = 0;
  private closed = false;
  /** Provider and model never change within a generation, so a chunk's envelope is built once. */
  private chunkPrefix: string | undefined;

  constructor(private readonly maxBytes = Number.POSITIVE_INFINITY) {}

  get lastId(): number {
    return this.frames.length;
  }

  get ended(): boolean {
    return this.closed;
  }

  /** What the frames hold in memory, in bytes (an estimate that counts text as UTF-16). */
  get sizeBytes(): number {
    return this.bytes;
  }

  /** Past the bound the generation is ended with an error (terminal frames are still stored). */
  get full(): boolean {
    return this.bytes > this.maxBytes;
  }

  /** Appends frames (ids assigned in order) and wakes readers once for the batch. */
  append(frames: readonly Frame[]): void {
    if (this.closed) throw new Error('append to an ended log');
    if (frames.length === 0) return;
    for (const frame of frames) {
      this.frames.push(frame);
      this.bytes += frameBytes(frame);
    }
    this.notify();
  }

  /** Marks the log complete: no frame follows. */
  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.notify();
    this.listeners.clear();
    this.json = [];
  }

  frame(id: number): Frame {
    const frame = this.frames[id - 1];
    if (frame === undefined) throw new RangeError(`no frame ${id} (last is ${this.frames.length})`);
    return frame;
  }

  dataJson(id: number): string {
    const cached = this.json[id - 1];
    if (cached !== undefined) return cached;
    const frame = this.frame(id);
    let text: string;
    if (frame.event === 'chunk') {
      this.chunkPrefix ??= chunkDataPrefix(frame.data.provider, frame.data.model);
      text = chunkDataJson(this.chunkPrefix, frame.data.delta_text);
    } else {
      text = encodeFrameData(frame);
    }
    if (!this.closed) this.json[id - 1] = text;
    return text;
  }

  /** Every frame so far, in order (for folds such as the result). */
  all(): readonly Frame[] {
    return this.frames;
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
