import type { ServerResponse } from 'node:http';
import { DONE_SENTINEL, encodeComment, encodeRetry } from '../core/sse-encode.js';
import type { Followable } from '../generation/redis.js';

export interface SseWriterOptions {
  /** Write frames with id greater than this (0 = from the start). */
  afterId: number;
  keepAliveMs: number;
  /** Frames the log may grow by while this reader's socket is full before it counts as stalled. */
  bufferFrames: number;
  /**
   * How long the socket must stay full (no `drain`) before a reader that is `bufferFrames`
   * behind counts as stalled. A burst from a fast upstream fills any socket for a moment; only
   * a reader that stays full is slow.
   */
  stallTimeoutMs: number;
  clientRetryMs: number;
  headers: Record<string, string>;
}

const PING = encodeComment('ping');

/**
 * Follows a generation's log onto one HTTP response. Writes straight to the socket; when
 * `write()` says the socket is full it stops and waits for `drain`, so a slow reader costs the
 * gateway one pending write, not a growing queue. A reader whose socket stays full for
 * `stallTimeoutMs` while the log moves more than `bufferFrames` frames ahead of it is
 * disconnected: it can resume from its last id.
 */
export function streamGeneration(
  generation: Followable,
  response: ServerResponse,
  options: SseWriterOptions,
): void {
  const log = generation.log;
  let cursor = options.afterId;
  let first = true;
  let blockedAt: number | undefined;
  let blockedSince = 0;
  let stallTimer: NodeJS.Timeout | undefined;
  let wroteSinceTick = true;
  let closed = false;

  response.writeHead(200, {
    ...options.headers,
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache',
    'X-Accel-Buffering': 'no',
    'X-Generation-Id': generation.id,
  });
  generation.attachReader();

  const cleanup = (): void => {
    if (closed) return;
    closed = true;
    unsubscribe();
    clearInterval(keepAlive);
    clearTimeout(stallTimer);
    response.off('drain', onDrain);
    generation.detachReader();
  };

  const flush = (): void => {
    if (closed || blockedAt !== undefined) return;
    const lastId = log.lastId;
    const ended = log.ended;
    let text = cursor < lastId ? log.textAfter(cursor) : '';
    cursor = lastId;
    if (first && text.length > 0) {
      text = encodeRetry(options.clientRetryMs) + text;
      first = false;
    }
    if (ended) {
      response.end(text + DONE_SENTINEL);
      cleanup();
      return;
    }
    if (text.length === 0) return;
    wroteSinceTick = true;
    if (!response.write(text)) {
      blockedAt = lastId;
      blockedSince = Date.now();
      response.once('drain', onDrain);
      // Checked again when the stall bound passes, in case no frame arrives to trigger it.
      stallTimer = setTimeout(dropIfStalled, options.stallTimeoutMs + 1);
    }
  };

  function onDrain(): void {
    blockedAt = undefined;
    clearTimeout(stallTimer);
    flush();
  }

  /** Drops a reader whose socket stayed full past the stall bound: it can resume, nothing is lost. */
  const dropIfStalled = (): boolean => {
    if (blockedAt === undefined || log.lastId - blockedAt <= options.bufferFrames) return false;
    if (Date.now() - blockedSince < options.stallTimeoutMs) return false;
    response.destroy();
    cleanup();
    return true;
  };

  const onAppend = (): void => {
    if (blockedAt !== undefined) {
      dropIfStalled();
      return;
    }
    flush();
  };

  // The flag is cleared every half period and a ping goes out when nothing was written over a
  // whole half period, so the longest silence is one full keep-alive interval.
  const keepAlive = setInterval(
    () => {
      if (!wroteSinceTick && blockedAt === undefined && !closed) response.write(PING);
      wroteSinceTick = false;
    },
    Math.max(5, Math.floor(options.keepAliveMs / 2)),
  );

  const unsubscribe = log.subscribe(onAppend);
  response.on('close', cleanup);
  // A write racing a client that just left fails here; 'close' does the cleanup.
  response.on('error', () => {});
  flush();
}
