import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { RequestError } from '../core/errors.js';

/**
 * Bytes of request bodies being read at this moment, across every connection. Each body
 * reserves its declared length (or the body limit when it declares none) before a byte is
 * read, so slow senders together can hold no more than the bound.
 */
export class PendingBodies {
  private reserved = 0;

  constructor(readonly limit: number) {}

  get bytes(): number {
    return this.reserved;
  }

  /** Takes `bytes` from the budget; `false`, taking nothing, when they do not fit. */
  reserve(bytes: number): boolean {
    if (this.reserved + bytes > this.limit) return false;
    this.reserved += bytes;
    return true;
  }

  release(bytes: number): void {
    this.reserved = Math.max(0, this.reserved - bytes);
  }
}

export interface BodyLimits {
  maxBytes: number;
  /** How long the whole body may take to arrive, from when reading starts. */
  timeoutMs: number;
  pending: PendingBodies;
}

/**
 * Reads a JSON request body within its bounds, refusing other media types: over `maxBytes`
 * 413, past `timeoutMs` 408, and 503 at once, unread, when the pending-body budget is spent.
 * A refused body is no longer buffered; what still arrives is discarded (see `lingerAfterAnswer`).
 */
export async function readJsonBody(request: IncomingMessage, limits: BodyLimits): Promise<unknown> {
  const contentType = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (contentType !== 'application/json' && !/^application\/[\w.+-]*\+json$/.test(contentType)) {
    throw new RequestError(
      'unsupported_media_type',
      `Content-Type must be application/json${contentType ? `, got ${contentType}` : ''}`,
    );
  }
  const { maxBytes } = limits;
  const tooLarge = (): RequestError =>
    new RequestError('payload_too_large', `request body exceeds ${maxBytes} bytes`);
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
  const reservation = Number.isFinite(declared) && declared >= 0 ? declared : maxBytes;
  if (!limits.pending.reserve(reservation)) {
    throw new RequestError(
      'unavailable',
      'the gateway is receiving as many request bodies as it can hold; try again shortly',
    );
  }
  let text: string;
  try {
    text = await receive(request, maxBytes, limits.timeoutMs, tooLarge);
  } finally {
    limits.pending.release(reservation);
  }
  if (text.trim().length === 0) throw new RequestError('invalid_request', 'request body is empty');
  try {
    return JSON.parse(text);
  } catch {
    throw new RequestError('invalid_request', 'request body is not valid JSON');
  }
}

/** The body as text, within `maxBytes` and `timeoutMs`. Never destroys the request: a refusal must still be answered. */
function receive(
  request: IncomingMessage,
  maxBytes: number,
  timeoutMs: number,
  tooLarge: () => RequestError,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const pieces: Buffer[] = [];
    let total = 0;
    const cleanup = (): void => {
      clearTimeout(timer);
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('close', onClose);
      request.off('error', onClose);
      // Whatever still arrives flows on and is dropped, not buffered.
      request.resume();
    };
    const fail = (error: RequestError): void => {
      cleanup();
      pieces.length = 0;
      reject(error);
    };
    const onData = (piece: Buffer): void => {
      total += piece.length;
      if (total > maxBytes) fail(tooLarge());
      else pieces.push(piece);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(pieces).toString('utf8'));
    };
    const onClose = (): void => fail(new RequestError('invalid_request', 'the request body was cut short'));
    const timer = setTimeout(
      () =>
        fail(new RequestError('request_timeout', `the request body did not arrive within ${timeoutMs} ms`)),
      timeoutMs,
    );
    request.on('data', onData);
    request.once('end', onEnd);
    request.once('close', onClose);
    request.once('error', onClose);
  });
}

/** What a refused request may still send, and for how long, before its connection is cut. */
const LINGER_BYTES = 4 * 1024 * 1024;
const LINGER_MS = 5000;

/**
 * Closes the connection of a request answered before its body was read, so that the client
 * reads the answer. node:http ends a `Connection: close` answer with `socket.destroySoon()`,
 * which closes the socket as soon as the answer is written; bytes the client is still sending
 * then make the kernel reset the connection, and a client that sends before it reads loses the
 * answer. Instead the answer is followed by a FIN, and what still arrives is read and dropped
 * until the client closes its side, up to `LINGER_BYTES` and `LINGER_MS`.
 */
export function lingerAfterAnswer(socket: Socket): void {
  socket.destroySoon = () => {
    if (socket.destroyed) return;
    let discarded = 0;
    const stop = (): void => {
      clearTimeout(timer);
      socket.destroy();
    };
    const timer = setTimeout(stop, LINGER_MS);
    timer.unref();
    socket.on('data', (bytes: Buffer) => {
      discarded += bytes.length;
      if (discarded > LINGER_BYTES) stop();
    });
    socket.once('end', stop);
    socket.once('close', () => clearTimeout(timer));
    socket.end();
    socket.resume();
  };
}
