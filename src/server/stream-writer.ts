import type { ServerResponse } from 'node:http';
import { holdUntilTurnEnd } from '../core/turns.js';
import type { StreamEncoder } from '../faces/types.js';
import type { Followable } from '../generation/generation.js';
import { isTextEvent } from '../generation/log.js';
import { GENERATION_ID_HEADER } from '../protocol/http.js';

/**
 * Built once per stream by each route as `{ afterId, headers, ...writer }`: the per-request fields
 * first. On Node 20, an object that starts with a spread and is then extended takes V8's slow path
 * (about half a microsecond for each property added after the spread); one that starts as a
 * literal does not.
 */
export interface StreamWriterOptions {
  /** Write frames with id greater than this (0 = from the start). */
  afterId: number;
  keepAliveMs: number;
  /** Frames a reader may fall behind the log while its socket is full before it counts as stalled. */
  bufferFrames: number;
  /**
   * How long the socket must stay full (no `drain`) before a reader that is `bufferFrames`
   * behind counts as stalled. A burst from a fast upstream fills any socket for a moment; only
   * a reader that stays full is slow.
   */
  stallTimeoutMs: number;
  headers: Record<string, string>;
}

/**
 * Most characters handed to the socket in one write. A backlog (a resume of a long answer, a
 * burst) goes out in slices that each wait for `drain`, so what a reader that stops reading
 * holds is one slice and the socket's buffer, whatever the answer's size.
 */
const SLICE_CHARS = 64 * 1024;

/**
 * Drops a stalled reader's connection with a reset (RST), not a close. A close leaves what the
 * reader never read (megabytes, on a loopback or LAN socket) in the kernel, in an orphaned socket
 * that keeps trickling it through the reader's closed window: the reader may learn of the drop
 * only long after, and the memory stays held meanwhile. A reset frees it and tells the reader at
 * once; it can resume from its last id. A socket that is not plain TCP is closed instead.
 */
function dropConnection(response: ServerResponse): void {
  const socket = response.socket;
  if (socket !== null) {
    try {
      socket.resetAndDestroy();
      return;
    } catch {
      // Not a TCP handle: close it as usual.
    }
  }
  response.destroy();
}

/**
 * Follows a generation's log onto one HTTP response in one output form. Writes straight to
 * the socket; when `write()` says the socket is full it stops and waits for `drain`, so a slow
 * reader costs the gateway one pending slice, not a growing queue. A reader whose socket stays
 * full for `stallTimeoutMs` while more than `bufferFrames` frames wait for it is disconnected,
 * whether the log is running or finished: it can resume from its last id.
 */
export function followLog(
  generation: Followable,
  response: ServerResponse,
  encoder: StreamEncoder,
  options: StreamWriterOptions,
): void {
  const log = generation.log;
  let cursor = options.afterId;
  let first = true;
  let blockedSince: number | undefined;
  let stallTimer: NodeJS.Timeout | undefined;
  let wroteSinceTick = true;
  let closed = false;
  /** The reader has its first text (answer or reasoning): from here on writes wait for the turn's end. */
  let textWritten = false;

  response.writeHead(
    200,
    Object.assign({}, options.headers, encoder.headers, { [GENERATION_ID_HEADER]: generation.id }),
  );
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

  /** Writes slices until the socket is full or the reader has caught up. */
  const flush = (): void => {
    while (!closed && blockedSince === undefined) {
      const lastId = log.lastId;
      if (cursor >= lastId) {
        if (log.ended) {
          response.end(encoder.trailer);
          cleanup();
        }
        return;
      }
      let text = '';
      let toId = cursor;
      // Until the first text goes out, nothing is held: the time to it is what a reader waits on.
      const hold = textWritten;
      while (toId < lastId && text.length < SLICE_CHARS) {
        toId++;
        text += encoder.encode(log, toId, toId, first && text.length === 0);
        if (!textWritten && isTextEvent(log.event(toId))) textWritten = true;
      }
      first = false;
      cursor = toId;
      wroteSinceTick = true;
      if (hold) holdUntilTurnEnd(response.socket);
      if (!response.write(text)) {
        blockedSince = Date.now();
        response.once('drain', onDrain);
        // Checked again when the stall bound passes, in case no frame arrives to trigger it.
        stallTimer = setTimeout(dropIfStalled, options.stallTimeoutMs + 1);
      }
    }
  };

  function onDrain(): void {
    blockedSince = undefined;
    clearTimeout(stallTimer);
    flush();
  }

  /** Drops a reader whose socket stayed full past the stall bound: it can resume, nothing is lost. */
  const dropIfStalled = (): void => {
    if (blockedSince === undefined || closed) return;
    const blockedFor = Date.now() - blockedSince;
    if (blockedFor >= options.stallTimeoutMs && (log.ended || log.lastId - cursor > options.bufferFrames)) {
      dropConnection(response);
      cleanup();
      return;
    }
    // Not stalled yet: look again when the bound could next be passed.
    clearTimeout(stallTimer);
    const wait =
      blockedFor < options.stallTimeoutMs ? options.stallTimeoutMs - blockedFor : options.stallTimeoutMs;
    stallTimer = setTimeout(dropIfStalled, wait + 1);
  };

  const onAppend = (): void => {
    if (blockedSince !== undefined) {
      dropIfStalled();
      return;
    }
    flush();
  };

  // The flag is cleared every half period and a keep-alive goes out when nothing was written
  // over a whole half period, so the longest silence is one full keep-alive interval.
  const keepAliveText = encoder.keepAlive;
  const keepAlive = setInterval(
    () => {
      if (!wroteSinceTick && blockedSince === undefined && !closed && keepAliveText !== undefined)
        response.write(keepAliveText);
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
