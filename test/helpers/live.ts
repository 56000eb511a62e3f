import { createParser } from 'eventsource-parser';
import type { ReceivedFrame } from './sse.js';

/** A stream read frame by frame, which a test can stop reading or cut at any point. */
export interface LiveStream {
  status: number;
  headers: Headers;
  frames: ReceivedFrame[];
  comments: string[];
  /** Resolves once at least `count` frames arrived (or the stream ended). */
  waitForFrames(count: number, timeoutMs?: number): Promise<void>;
  waitForComment(timeoutMs?: number): Promise<void>;
  /** Resolves when the response body ends. */
  ended: Promise<string>;
  /** Cuts the connection from the client side. */
  cut(): void;
}

export async function openLive(url: string, init: RequestInit = {}): Promise<LiveStream> {
  const controller = new AbortController();
  const response = await fetch(url, { ...init, signal: controller.signal });
  const frames: ReceivedFrame[] = [];
  const comments: string[] = [];
  let raw = '';
  const waiters = new Set<() => void>();
  const wake = (): void => {
    for (const waiter of waiters) waiter();
  };
  const parser = createParser({
    onEvent(message) {
      if (message.data === '[DONE]') return;
      frames.push({
        id: Number(message.id),
        event: message.event ?? 'message',
        data: JSON.parse(message.data),
      });
      wake();
    },
    onComment(comment) {
      comments.push(comment);
      wake();
    },
  });
  let finished = false;
  const reader = response.body?.getReader();
  const ended = (async () => {
    const decoder = new TextDecoder();
    try {
      if (reader === undefined) return raw;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        const text = decoder.decode(value, { stream: true });
        raw += text;
        parser.feed(text);
      }
    } catch {
      // cut by the test or by the server
    } finally {
      finished = true;
      wake();
    }
    return raw;
  })();
  const waitFor = (check: () => boolean, timeoutMs: number, what: string): Promise<void> =>
    new Promise((resolve, reject) => {
      if (check() || finished) {
        resolve();
        return;
      }
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      const waiter = (): void => {
        if (check() || finished) {
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve();
        }
      };
      waiters.add(waiter);
    });
  return {
    status: response.status,
    headers: response.headers,
    frames,
    comments,
    waitForFrames: (count, timeoutMs = 5000) =>
      waitFor(() => frames.length >= count, timeoutMs, `${count} frames`),
    waitForComment: (timeoutMs = 5000) => waitFor(() => comments.length > 0, timeoutMs, 'a comment'),
    ended,
    cut: () => {
      // Cancelling the reader settles a pending read even where an abort alone may not
      // (seen with Node 20's fetch under load); the abort then closes the connection.
      reader?.cancel().catch(() => {});
      controller.abort();
    },
  };
}

export function streamRequest(body: unknown): RequestInit {
  return { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}
