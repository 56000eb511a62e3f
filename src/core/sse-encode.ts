import type { Frame } from '../protocol/frames.js';
import { STREAM_END_DATA } from '../protocol/http.js';
import { isShortTextBelow } from './text.js';

/**
 * WHATWG-correct SSE encoding. Frame data is compact JSON, which escapes CR, LF, NUL and lone
 * surrogates; U+2028, U+2029 and U+0085 (NEL) are escaped too because some line splitters
 * (Python's `str.splitlines`, older JS parsers, log shippers) treat them as line ends.
 */

const LINE_SEPARATORS = /[\u2028\u2029\u0085]/g;

function escapeSeparator(character: string): string {
  return `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/**
 * Compact JSON that is always exactly one line, for every reader: never contains CR, LF or any
 * character a reader may take for a line end. Used for SSE `data:` lines and JSON log lines.
 */
export function encodeData(value: unknown): string {
  const json = JSON.stringify(value);
  return LINE_SEPARATORS.test(json) ? json.replace(LINE_SEPARATORS, escapeSeparator) : json;
}

/** A string's compact JSON, as `encodeData` writes it: a short one with no character from U+0085 up needs no look for separators. */
function encodeText(text: string): string {
  return isShortTextBelow(text, 0x85) ? JSON.stringify(text) : encodeData(text);
}

/** One SSE event block: the frame's sequence number, its event name, and its data JSON. */
export function encodeEvent(id: number, event: string, dataJson: string): string {
  return `id: ${id}\nevent: ${event}\ndata: ${dataJson}\n\n`;
}

/**
 * A frame's data JSON as it goes on the wire in every form (CONTRACT.md section 7): the data
 * object with `"type": "<event>"` first, so a reader of `data` alone can tell frames apart. A
 * frame read back from its own JSON (a Redis mirror) already holds `type`; the spread keeps it
 * first and the bytes the same.
 */
export function encodeFrameData(frame: Frame): string {
  return encodeData({ type: frame.event, ...frame.data });
}

/** One SSE event block for a frame with sequence number `id`. */
export function encodeFrame(id: number, frame: Frame): string {
  return encodeEvent(id, frame.event, encodeFrameData(frame));
}

/**
 * The constant head of every `chunk` frame's data in one generation, for the fast path below:
 * `{"type":"chunk","provider":...,"model":...,"delta_text":`.
 */
export function chunkDataPrefix(provider: string, model: string): string {
  return `{"type":"chunk","provider":${encodeData(provider)},"model":${encodeData(model)},"delta_text":`;
}

/**
 * A `chunk` frame's data JSON, byte for byte what `encodeFrameData` writes, but stringifying only the
 * text: chunks are nearly every frame, and the envelope around the text never changes.
 */
export function chunkDataJson(dataPrefix: string, text: string): string {
  return `${dataPrefix}${encodeText(text)},"finish_reason":null,"usage":null}`;
}

/** The constant head of every `thinking` frame's data in one generation, as `chunkDataPrefix`. */
export function thinkingDataPrefix(provider: string, model: string): string {
  return `{"type":"thinking","provider":${encodeData(provider)},"model":${encodeData(model)},"delta_text":`;
}

/** A `thinking` frame's data JSON, byte for byte what `encodeFrameData` writes, as `chunkDataJson`. */
export function thinkingDataJson(dataPrefix: string, text: string): string {
  return `${dataPrefix}${encodeText(text)}}`;
}

/** The `retry:` field that precedes the first frame a response carries. */
export function encodeRetry(retryMs: number): string {
  return `retry: ${Math.max(0, Math.trunc(retryMs))}\n`;
}

/** A comment line (keep-alive). Comment text can never end the line early. */
export function encodeComment(text: string): string {
  return `: ${text.replace(/[\r\n]+/g, ' ')}\n\n`;
}

/** The terminal sentinel written after `done`, as OpenAI-style clients expect. */
export const DONE_SENTINEL = `data: ${STREAM_END_DATA}\n\n`;
