import type { LogReader } from '../../generation/log.js';
import { TEXT_TYPE } from '../accept.js';
import type { StreamEncoder } from '../types.js';

const TEXT_HEADERS = {
  'Content-Type': `${TEXT_TYPE}; charset=utf-8`,
  'Cache-Control': 'no-cache',
  'X-Accel-Buffering': 'no',
} as const;

/** The last piece of body text before frame `id`: whether the body so far ends a line. */
function bodyEndsLine(log: LogReader, id: number): boolean {
  for (let previous = id - 1; previous >= 1; previous--) {
    const piece = bodyPiece(log, previous);
    if (piece.length > 0) return piece.endsWith('\n');
  }
  return true;
}

/** `[error] <code>: <message>` on a line of its own, whatever the answer text ended with. */
function failureLine(log: LogReader, id: number, code: string, message: string): string {
  const line = `[error] ${code}: ${message.replace(/[\r\n\u2028\u2029\u0085]+/g, ' ')}\n`;
  return bodyEndsLine(log, id) ? line : `\n${line}`;
}

/**
 * What frame `id` adds to the plain-text body: answer text, the line that marks a failure after
 * the start (an `error` frame, or a cancellation, which leaves the answer just as unfinished), or
 * nothing. A pure function of the log, so every connection to a generation reads the same body.
 */
export function bodyPiece(log: LogReader, id: number): string {
  if (log.event(id) === 'chunk') return log.text(id) ?? '';
  const frame = log.frame(id);
  switch (frame.event) {
    case 'chunk':
      return frame.data.delta_text;
    case 'error':
      return failureLine(log, id, frame.data.code, frame.data.message);
    case 'cancelled':
      return failureLine(log, id, 'cancelled', 'the generation was cancelled');
    default:
      // Reasoning, tool calls, metadata and frame types added later have no place in the answer text.
      return '';
  }
}

/** Where a plain-text reader resumes: after frame `afterId`, less the first `skipChars` of the next frame's text. */
export interface TextResumePoint {
  afterId: number;
  skipChars: number;
  /** The reader already has the whole body of an ended generation. */
  complete: boolean;
}

/**
 * The resume point of a reader that holds the first `offset` bytes (UTF-8) of the body, or why
 * there is none: an offset past the text sent so far, or inside a character (a reader drops the
 * bytes of a character it could not decode, and resumes from its start).
 */
export function textResumePoint(log: LogReader, offset: number): TextResumePoint | string {
  let bytes = 0;
  const lastId = log.lastId;
  for (let id = 1; id <= lastId; id++) {
    const piece = bodyPiece(log, id);
    const pieceBytes = Buffer.byteLength(piece);
    if (bytes + pieceBytes > offset) {
      const skipChars = charsInBytes(piece, offset - bytes);
      if (skipChars === undefined) return `offset ${offset} falls inside a character`;
      return { afterId: id - 1, skipChars, complete: false };
    }
    bytes += pieceBytes;
  }
  // The reader holds all the text so far: it follows from the last frame, or is done.
  if (bytes === offset) return { afterId: lastId, skipChars: 0, complete: log.ended };
  return `offset ${offset} is past the ${bytes} bytes of text sent so far`;
}

/** How many UTF-16 code units of `text` make up its first `byteCount` UTF-8 bytes; undefined mid-character. */
function charsInBytes(text: string, byteCount: number): number | undefined {
  let bytes = 0;
  let index = 0;
  while (bytes < byteCount) {
    const codePoint = text.codePointAt(index) ?? 0;
    bytes += codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4;
    index += codePoint >= 0x10000 ? 2 : 1;
  }
  return bytes === byteCount ? index : undefined;
}

/**
 * The native stream as the answer text alone (CONTRACT.md section 8), for `curl` and shell
 * pipes. No keep-alive (there is nothing to send that is not text) and no trailer: the body ends
 * with the answer, or with the `[error]` line. One encoder per response: a resume by offset
 * starts inside a frame's text.
 */
export function textEncoder(resume: { skipChars: number } = { skipChars: 0 }): StreamEncoder {
  let skipChars = resume.skipChars;
  return {
    headers: TEXT_HEADERS,
    encode(log: LogReader, fromId: number, toId: number): string {
      let text = '';
      for (let id = fromId; id <= toId; id++) {
        const piece = bodyPiece(log, id);
        if (skipChars > 0) {
          text += piece.slice(skipChars);
          skipChars = 0;
        } else text += piece;
      }
      return text;
    },
    keepAlive: undefined,
    trailer: '',
  };
}
