import { StringDecoder } from 'node:string_decoder';
import { createParser, type EventSourceParser, type ParseError } from 'eventsource-parser';

/**
 * Framing lives here, once: bytes from an upstream become parsed events. Providers receive
 * `WireEvent`s and never see bytes, `data:` prefixes or the `[DONE]` sentinel.
 */
export type WireEvent =
  /** One SSE event (or NDJSON line) whose data parsed as JSON. */
  | { type: 'message'; event: string | undefined; data: unknown }
  /** The OpenAI-style `data: [DONE]` end marker. */
  | { type: 'end_marker' }
  /** Data that is not JSON, or a line over the size bound. */
  | { type: 'malformed'; reason: string; excerpt: string };

export interface WireParser {
  push(chunk: Uint8Array): WireEvent[];
  /** The upstream body ended: flush what is pending. */
  end(): WireEvent[];
}

export type Framing = 'sse' | 'ndjson';

/** Longest event or line we buffer before calling the stream malformed. */
export const MAX_EVENT_CHARS = 8 * 1024 * 1024;
const MAX_STRAY_CHARS = 64 * 1024;

function excerpt(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

/**
 * Reads one event's JSON text; throws on invalid JSON. `JSON.parse`, or a provider's faster
 * reader for the shapes it knows, which returns what `JSON.parse` would, or a stand-in for that
 * value which the provider's own codec reads the same way (the OpenAI reader's `ContentDelta`).
 */
export type JsonReader = (text: string) => unknown;

function parseJson(text: string, event: string | undefined, out: WireEvent[], read: JsonReader): void {
  try {
    out.push({ type: 'message', event, data: read(text) });
  } catch {
    // Some OpenAI-compatible servers separate `data:` lines with a single LF, which SSE joins
    // into one multi-line value: accept it when every line is JSON (or the end marker) on its own.
    if (text.includes('\n') && parseLines(text, event, out)) return;
    out.push({ type: 'malformed', reason: 'invalid JSON', excerpt: excerpt(text) });
  }
}

function parseLines(text: string, event: string | undefined, out: WireEvent[]): boolean {
  const parsed: WireEvent[] = [];
  for (const line of text.split('\n')) {
    if (line.length === 0) continue;
    if (line.startsWith('[DONE]')) {
      parsed.push({ type: 'end_marker' });
      continue;
    }
    try {
      parsed.push({ type: 'message', event, data: JSON.parse(line) });
    } catch {
      return false;
    }
  }
  out.push(...parsed);
  return true;
}

/**
 * UTF-8 decoding that keeps a multi-byte character split across reads whole, and drops one
 * leading BOM as the SSE spec and TextDecoder do. Node's StringDecoder costs about a quarter
 * of `TextDecoder.decode(..., {stream: true})` per read, which adds up at one read per token.
 */
function createDecoder(): { write(chunk: Uint8Array): string; end(): string } {
  const decoder = new StringDecoder('utf8');
  let started = false;
  const strip = (text: string): string => {
    if (started || text.length === 0) return text;
    started = true;
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  };
  return {
    write: (chunk) => strip(decoder.write(chunk as Buffer)),
    end: () => strip(decoder.end()),
  };
}

export function createWireParser(framing: Framing, read: JsonReader = JSON.parse): WireParser {
  return framing === 'sse' ? createSseParser(read) : createNdjsonParser(read);
}

/**
 * SSE via eventsource-parser (CR, LF, CRLF split across chunks, BOM, multi-line data).
 * Lines that are not SSE fields at all (Gemini has been seen writing a raw pretty-printed
 * `{"error": ...}` body mid-stream, vercel/ai#5217) are collected and parsed as JSON, because
 * a conformant SSE parser would otherwise drop them silently.
 */
export function createSseParser(read: JsonReader = JSON.parse): WireParser {
  const decoder = createDecoder();
  let out: WireEvent[] = [];
  let stray: string[] = [];
  let strayChars = 0;

  const flushStray = (final: boolean): void => {
    if (stray.length === 0) return;
    const text = stray.join('\n');
    try {
      out.push({ type: 'message', event: undefined, data: JSON.parse(text) });
      stray = [];
      strayChars = 0;
    } catch {
      if (final || strayChars > MAX_STRAY_CHARS) {
        out.push({ type: 'malformed', reason: 'text outside SSE fields', excerpt: excerpt(text) });
        stray = [];
        strayChars = 0;
      }
    }
  };

  const parser: EventSourceParser = createParser({
    maxBufferSize: MAX_EVENT_CHARS,
    onEvent(message) {
      const data = message.data;
      if (data.length === 0) return;
      if (data.charCodeAt(0) === 91 /* [ */ && data.startsWith('[DONE]')) {
        out.push({ type: 'end_marker' });
        return;
      }
      parseJson(data, message.event, out, read);
    },
    onError(error: ParseError) {
      if (error.type === 'unknown-field' && error.line !== undefined) {
        const line = error.line;
        if (stray.length === 0 && !line.trimStart().startsWith('{')) return;
        stray.push(line);
        strayChars += line.length;
        if (line.startsWith('}')) flushStray(false);
        return;
      }
      if (error.type === 'max-buffer-size-exceeded') {
        out.push({ type: 'malformed', reason: 'event larger than the size bound', excerpt: '' });
      }
    },
  });

  return {
    push(chunk) {
      out = [];
      parser.feed(decoder.write(chunk));
      return out;
    },
    end() {
      out = [];
      const rest = decoder.end();
      if (rest.length > 0) parser.feed(rest);
      // A browser drops an event cut off by EOF; a gateway would rather see it, since the last
      // event of a dying upstream is often its error object. Only complete JSON survives parsing.
      parser.feed('\n\n');
      parser.reset();
      flushStray(true);
      return out;
    },
  };
}

/** NDJSON (Ollama): one JSON value per LF-terminated line; fragments joined once per line. */
export function createNdjsonParser(read: JsonReader = JSON.parse): WireParser {
  const decoder = createDecoder();
  let pending: string[] = [];
  let pendingChars = 0;
  let out: WireEvent[] = [];
  let oversized = false;

  const emitLine = (line: string): void => {
    const trimmed = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (trimmed.trim().length === 0) return;
    parseJson(trimmed, undefined, out, read);
  };

  const feed = (text: string): void => {
    let start = 0;
    let newline = text.indexOf('\n');
    while (newline !== -1) {
      const piece = text.slice(start, newline);
      if (oversized) {
        oversized = false;
      } else if (pending.length > 0) {
        pending.push(piece);
        emitLine(pending.join(''));
      } else {
        emitLine(piece);
      }
      pending = [];
      pendingChars = 0;
      start = newline + 1;
      newline = text.indexOf('\n', start);
    }
    if (start < text.length && !oversized) {
      const rest = text.slice(start);
      pending.push(rest);
      pendingChars += rest.length;
      if (pendingChars > MAX_EVENT_CHARS) {
        out.push({ type: 'malformed', reason: 'line larger than the size bound', excerpt: '' });
        pending = [];
        pendingChars = 0;
        oversized = true;
      }
    }
  };

  return {
    push(chunk) {
      out = [];
      feed(decoder.write(chunk));
      return out;
    },
    end() {
      out = [];
      feed(decoder.end());
      if (pending.length > 0 && !oversized) emitLine(pending.join(''));
      pending = [];
      return out;
    },
  };
}
