import {
  chunkDataJson,
  chunkDataPrefix,
  encodeFrameData,
  thinkingDataJson,
  thinkingDataPrefix,
} from '../core/sse-encode.js';
import { isShortTextBelow } from '../core/text.js';
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
  /** Its event name, without building or parsing the frame. */
  event(id: number): string;
  /** A `chunk` or `thinking` frame's `delta_text` (undefined for any other frame). */
  text(id: number): string | undefined;
  /**
   * The compact JSON of that frame's `data`, as every output form writes it: encoded once per
   * frame while the generation runs, however many readers follow it.
   */
  dataJson(id: number): string;
  /** Calls `listener` after every append and at the end. Returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
}

/** Bytes a stored frame object holds beyond its strings (object, array slots, cached JSON envelope). */
const FRAME_OVERHEAD_BYTES = 160;

/** Bytes a text frame stored as its text alone holds beyond the text (string header, array slots). */
const TEXT_FRAME_OVERHEAD_BYTES = 40;

/**
 * What a frame object costs to hold, in bytes: its object plus its text (UTF-16, two bytes a
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

/** The generation's envelope, and the constant heads of its text frames' data JSON. */
interface TextEnvelope {
  provider: string;
  model: string;
  chunkPrefix: string;
  thinkingPrefix: string;
}

function textEnvelope(provider: string, model: string): TextEnvelope {
  return {
    provider,
    model,
    chunkPrefix: chunkDataPrefix(provider, model),
    thinkingPrefix: thinkingDataPrefix(provider, model),
  };
}

/** A character V8 cannot store in a one-byte string. */
const WIDE_CHARACTER = /[\u0100-\uffff]/;

/** What a string costs to hold beyond its header: V8 keeps text without characters past U+00FF one byte a character. */
function textBytes(text: string): number {
  if (isShortTextBelow(text, 0x100)) return text.length;
  return WIDE_CHARACTER.test(text) ? 2 * text.length : text.length;
}

/**
 * The frames of one generation, in order. Written by one producer (the run, or a mirror of a
 * generation another instance runs); read by any number of readers. A text frame (`chunk`,
 * `thinking`) in the generation's envelope is held as its text alone, and every other frame as
 * its object while the generation runs and as its data JSON once it ended: nearly every frame of
 * a long answer is one string, which costs the garbage collector little while the generation is
 * young, and a finished generation waiting out its resume window costs its text and little else.
 * Frame objects and data JSON are built when a reader asks for them.
 */
export class FrameLog implements LogReader {
  /** Event name of each frame (constant strings). */
  private readonly events: string[] = [];
  /**
   * A text frame's `delta_text` (in `envelope`); any other frame itself while running, and its
   * data JSON once ended (a text frame in another envelope stays an object).
   */
  private readonly items: (string | Frame)[] = [];
  /** Data JSON of frames held as objects, by index, once a reader asked for it (running logs only). */
  private encoded: (string | undefined)[] = [];
  /**
   * Replaced, never changed in place, when a reader subscribes or leaves: a notification runs over
   * the array it started with. An array, not a Set: it is walked after every append.
   */
  private listeners: readonly (() => void)[] = [];
  private bytes = 0;
  private closed = false;
  /** Frames held as objects were replaced by their data JSON (after `close`). */
  private compacted = false;
  /** Provider and model of the generation's text frames: set by the first one. */
  private envelope: TextEnvelope | undefined;

  constructor(private readonly maxBytes = Number.POSITIVE_INFINITY) {}

  get lastId(): number {
    return this.events.length;
  }

  get ended(): boolean {
    return this.closed;
  }

  /** What the log holds in memory, in bytes (an estimate while running, recounted at the end). */
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
      this.events.push(frame.event);
      const text = this.textOf(frame);
      if (text === undefined) {
        this.items.push(frame);
        this.bytes += frameBytes(frame);
      } else {
        this.items.push(text);
        this.bytes += TEXT_FRAME_OVERHEAD_BYTES + textBytes(text);
      }
    }
    this.notify();
  }

  /**
   * The text a text frame in the generation's envelope is stored as; undefined for any other
   * frame. A `chunk` holds exactly its envelope, its text and two nulls, a `thinking` frame its
   * envelope and its text (CONTRACT.md section 3; a frame read back from JSON also holds `type`),
   * so the text and the envelope are all there is to keep.
   */
  private textOf(frame: Frame): string | undefined {
    let data: { provider: string; model: string; delta_text: string };
    if (frame.event === 'chunk') {
      if (frame.data.finish_reason !== null || frame.data.usage !== null) return undefined;
      data = frame.data;
    } else if (frame.event === 'thinking') {
      data = frame.data;
    } else {
      return undefined;
    }
    const envelope = this.envelope;
    if (envelope === undefined) {
      this.envelope = textEnvelope(data.provider, data.model);
      return data.delta_text;
    }
    return data.provider === envelope.provider && data.model === envelope.model ? data.delta_text : undefined;
  }

  /**
   * Marks the log complete: no frame follows. Readers are woken first; then every frame held as
   * an object (start, metadata, usage, done...) is replaced by its data JSON, and the bytes recounted.
   */
  end(): void {
    this.close();
    this.compact();
  }

  /** The first half of `end`: no frame follows, and readers are woken. Frames stay as they are. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.notify();
    this.listeners = [];
  }

  /** The second half of `end`: frames held as objects become their data JSON (once, when closed). */
  compact(): void {
    if (!this.closed || this.compacted) return;
    this.compacted = true;
    const { events, items } = this;
    for (let index = 0; index < items.length; index++) {
      const item = items[index];
      if (typeof item === 'string' || item === undefined || isTextEvent(events[index])) continue;
      const json = this.encoded[index] ?? encodeFrameData(item);
      items[index] = json;
      this.bytes += TEXT_FRAME_OVERHEAD_BYTES + textBytes(json) - frameBytes(item);
    }
    this.encoded = [];
  }

  frame(id: number): Frame {
    const item = this.item(id);
    const event = this.events[id - 1] as Frame['event'];
    if (typeof item !== 'string') return item;
    if (!isTextEvent(event)) return { event, data: JSON.parse(item) } as Frame;
    const { provider, model } = this.envelope as TextEnvelope;
    return event === 'chunk'
      ? { event, data: { provider, model, delta_text: item, finish_reason: null, usage: null } }
      : { event: 'thinking', data: { provider, model, delta_text: item } };
  }

  /** The frame's event name, without building or parsing the frame. */
  event(id: number): string {
    const event = this.events[id - 1];
    if (event === undefined) throw new RangeError(`no frame ${id} (last is ${this.events.length})`);
    return event;
  }

  text(id: number): string | undefined {
    const item = this.item(id);
    if (!isTextEvent(this.events[id - 1])) return undefined;
    return typeof item === 'string' ? item : (item.data as { delta_text: string }).delta_text;
  }

  dataJson(id: number): string {
    const item = this.item(id);
    if (typeof item !== 'string') {
      // Held as an object while running: encoded for the first reader, kept for the others and the end.
      let json = this.encoded[id - 1];
      if (json === undefined) {
        json = encodeFrameData(item);
        this.encoded[id - 1] = json;
      }
      return json;
    }
    const event = this.events[id - 1];
    if (!isTextEvent(event)) return item;
    const envelope = this.envelope as TextEnvelope;
    return event === 'chunk'
      ? chunkDataJson(envelope.chunkPrefix, item)
      : thinkingDataJson(envelope.thinkingPrefix, item);
  }

  /** Every frame, in order (for folds such as the result), built or parsed back one by one. */
  all(): readonly Frame[] {
    const frames: Frame[] = [];
    for (let id = 1; id <= this.lastId; id++) frames.push(this.frame(id));
    return frames;
  }

  subscribe(listener: () => void): () => void {
    if (this.closed) return () => {};
    this.listeners = [...this.listeners, listener];
    return () => {
      const at = this.listeners.indexOf(listener);
      if (at !== -1) this.listeners = this.listeners.filter((_, index) => index !== at);
    };
  }

  private item(id: number): string | Frame {
    const item = this.items[id - 1];
    if (item === undefined) throw new RangeError(`no frame ${id} (last is ${this.items.length})`);
    return item;
  }

  private notify(): void {
    const listeners = this.listeners;
    for (let index = 0; index < listeners.length; index++) (listeners[index] as () => void)();
  }
}

/** A text frame's event: `chunk` (answer) or `thinking` (reasoning). */
export function isTextEvent(event: string | undefined): boolean {
  return event === 'chunk' || event === 'thinking';
}
