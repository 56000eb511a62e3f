import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { STREAM_END_DATA } from '../protocol/http.js';
import { SluiceProtocolError } from './errors.js';
import { KNOWN_EVENTS, type StreamFrame } from './types.js';

/** What one SSE connection yields: a frame, a frame of a type this client does not know, or `[DONE]`. */
export type SseItem =
  | { type: 'frame'; frame: StreamFrame }
  | { type: 'unknown'; id: number }
  | { type: 'end' };

export interface ReadHooks {
  /** The server's `retry:` field. */
  onRetry(ms: number): void;
  /** Any bytes arrived (frames or keep-alive comments): the connection is alive. */
  onActivity(): void;
}

/** A bound on one event's text, so a broken server cannot grow the buffer without end. */
const MAX_EVENT_CHARS = 16 * 1024 * 1024;

function toItem(message: EventSourceMessage): SseItem | undefined {
  if (message.data === STREAM_END_DATA) return { type: 'end' };
  if (message.event === undefined) return undefined;
  const id = message.id !== undefined && /^\d{1,15}$/.test(message.id) ? Number(message.id) : Number.NaN;
  if (!Number.isSafeInteger(id)) {
    throw new SluiceProtocolError(`frame "${message.event}" has no numeric id`);
  }
  if (!KNOWN_EVENTS.has(message.event)) return { type: 'unknown', id };
  let data: unknown;
  try {
    data = JSON.parse(message.data);
  } catch {
    throw new SluiceProtocolError(`frame ${id} (${message.event}) carries data that is not JSON`);
  }
  if (typeof data !== 'object' || data === null) {
    throw new SluiceProtocolError(`frame ${id} (${message.event}) carries data that is not an object`);
  }
  return { type: 'frame', frame: { id, event: message.event, data } as StreamFrame };
}

/**
 * Reads one SSE response body into items. Bytes are decoded as a stream (a multi-byte
 * character may be split between reads) and parsed by eventsource-parser; an event cut off by
 * the end of the body is dropped, since a resume sends it again.
 */
export async function* readSse(body: ReadableStream<Uint8Array>, hooks: ReadHooks): AsyncGenerator<SseItem> {
  const pending: EventSourceMessage[] = [];
  let parseError: SluiceProtocolError | undefined;
  const parser = createParser({
    onEvent: (message) => pending.push(message),
    onRetry: (ms) => hooks.onRetry(ms),
    onError: (error) => {
      if (error.type === 'max-buffer-size-exceeded') parseError = new SluiceProtocolError(error.message);
    },
    maxBufferSize: MAX_EVENT_CHARS,
  });
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let finished = false;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) {
        finished = true;
        return;
      }
      hooks.onActivity();
      parser.feed(decoder.decode(value, { stream: true }));
      if (parseError !== undefined) throw parseError;
      for (const message of pending) {
        const item = toItem(message);
        if (item !== undefined) yield item;
      }
      pending.length = 0;
    }
  } finally {
    // Left early (after `done`, on abort or on a protocol error): release the connection.
    if (!finished) reader.cancel().catch(() => {});
  }
}
