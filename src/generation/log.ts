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
  /** Its event name (cheaper than `frame(id).event` on a finished log). */
  event(id: number): string;
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

/** A finished log, kept for the resume window as one string: every frame's data JSON, back to back. */
interface CompactedFrames {
  events: string[];
  /** Where each frame's data JSON starts in `text`; one more entry for the end. */
  offsets: Uint32Array;
  text: string;
  bytes: number;
}

/** A character V8 cannot store in a one-byte string. */
const WIDE_CHARACTER = /[\u0100-\uffff]/;

/** Bytes a finished generation's log holds beyond its text (the log, the arrays, the string header). */
const COMPACTED_OVERHEAD_BYTES = 256;

/**
 * The frames of one generation, in order, as objects. Written by one producer (the run, or a
 * mirror of a generation another instance runs); read by any number of readers. When it ends,
 * it is compacted into one string (each frame's data JSON back to back, with offsets): a
 * finished generation waiting out its resume window costs its text and little else, and a
 * frame is parsed back only when someone reads it as an object.
 */
export class FrameLog implements LogReader {
  private frames: Frame[] = [];
  /** The data JSON of each frame while running, filled on first use. */
  private json: (string | undefined)[] = [];
  private compacted: CompactedFrames | undefined;
  private readonly listeners = new Set<() => void>();
  private bytes = 0;
  private closed = false;
  /** Provider and model never change within a generation, so a chunk's envelope is built once. */
  private chunkPrefix: string | undefined;

  constructor(private readonly maxBytes = Number.POSITIVE_INFINITY) {}

  get lastId(): number {
    return this.compacted === undefined ? this.frames.length : this.compacted.events.length;
  }

  get ended(): boolean {
    return this.closed;
  }

  /**
   * What the log holds in memory, in bytes: while running, an estimate that counts text as
   * UTF-16; once finished, the compacted string and its offsets.
   */
  get sizeBytes(): number {
    return this.compacted?.bytes ?? this.bytes;
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

  /** Marks the log complete: no frame follows. Readers are woken first, then the log is compacted. */
  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.notify();
    this.listeners.clear();
    this.compact();
  }

  private compact(): void {
    const count = this.frames.length;
    const events: string[] = new Array(count);
    const offsets = new Uint32Array(count + 1);
    const pieces: string[] = new Array(count);
    let position = 0;
    for (let index = 0; index < count; index++) {
      const piece = this.dataJson(index + 1);
      events[index] = (this.frames[index] as Frame).event;
      pieces[index] = piece;
      offsets[index] = position;
      position += piece.length;
    }
    offsets[count] = position;
    const text = pieces.join('');
    // V8 keeps text without characters past U+00FF one byte a character.
    const width = WIDE_CHARACTER.test(text) ? 2 : 1;
    this.compacted = {
      events,
      offsets,
      text,
      bytes: COMPACTED_OVERHEAD_BYTES + width * text.length + 4 * (count + 1) + 8 * count,
    };
    this.frames = [];
    this.json = [];
  }

  frame(id: number): Frame {
    const compacted = this.compacted;
    if (compacted !== undefined) {
      const event = compacted.events[id - 1];
      if (event === undefined) throw new RangeError(`no frame ${id} (last is ${compacted.events.length})`);
      return { event, data: JSON.parse(this.dataJson(id)) } as Frame;
    }
    const frame = this.frames[id - 1];
    if (frame === undefined) throw new RangeError(`no frame ${id} (last is ${this.frames.length})`);
    return frame;
  }

  /** The frame's event name, without parsing a finished log's frame back. */
  event(id: number): string {
    return this.compacted?.events[id - 1] ?? this.frame(id).event;
  }

  dataJson(id: number): string {
    const compacted = this.compacted;
    if (compacted !== undefined)
      return compacted.text.slice(compacted.offsets[id - 1], compacted.offsets[id]);
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
    this.json[id - 1] = text;
    return text;
  }

  /** Every frame, in order (for folds such as the result); a finished log parses them back. */
  all(): readonly Frame[] {
    if (this.compacted === undefined) return this.frames;
    const frames: Frame[] = [];
    for (let id = 1; id <= this.lastId; id++) frames.push(this.frame(id));
    return frames;
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
