import { connect, type Socket } from 'node:net';

/** One HTTP/1.1 connection driven byte by byte, for what `fetch` cannot do (half-close, partial bodies). */
export interface RawConnection {
  socket: Socket;
  /** Everything received so far, as latin1 text. */
  received(): string;
  /** Resolves once the received text matches, bounded. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves when the connection closes: what was received, and the error that closed it, if any. */
  closed: Promise<{ text: string; error: string | undefined }>;
}

/**
 * Connects to `url`. With `allowHalfOpen` the connection stays writable after the server's FIN,
 * as with clients that finish sending before they read.
 */
export function rawConnect(url: string, options: { allowHalfOpen?: boolean } = {}): Promise<RawConnection> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: hostname,
      port: Number(port),
      allowHalfOpen: options.allowHalfOpen ?? false,
    });
    let text = '';
    let error: string | undefined;
    const waiters = new Set<() => void>();
    socket.on('data', (bytes: Buffer) => {
      text += bytes.toString('latin1');
      for (const waiter of waiters) waiter();
    });
    socket.on('error', (cause: NodeJS.ErrnoException) => {
      error = cause.code ?? cause.message;
    });
    const closed = new Promise<{ text: string; error: string | undefined }>((done) => {
      socket.once('close', () => {
        for (const waiter of waiters) waiter();
        done({ text, error });
      });
    });
    socket.once('connect', () => {
      resolve({
        socket,
        received: () => text,
        closed,
        waitFor: (pattern, timeoutMs = 5000) =>
          new Promise((found, fail) => {
            const timer = setTimeout(() => {
              waiters.delete(check);
              fail(new Error(`timed out waiting for ${pattern}; received:\n${text.slice(0, 2000)}`));
            }, timeoutMs);
            function check(): void {
              if (pattern.test(text)) {
                clearTimeout(timer);
                waiters.delete(check);
                found(text);
              } else if (socket.destroyed) {
                clearTimeout(timer);
                waiters.delete(check);
                fail(new Error(`closed (${error ?? 'no error'}) before ${pattern}; received:\n${text}`));
              }
            }
            waiters.add(check);
            check();
          }),
      });
    });
    socket.once('error', reject);
  });
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The first HTTP response in `text` (a Content-Length body, or whatever follows the head). */
export function parseResponse(text: string): RawResponse {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`no complete response head in:\n${text.slice(0, 500)}`);
  const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const rest = text.slice(end + 4);
  const length = headers['content-length'];
  return {
    status: Number(statusLine.split(' ')[1]),
    headers,
    body: length === undefined ? rest : rest.slice(0, Number(length)),
  };
}

/** A POST head for a JSON body of `length` bytes. */
export function postHead(path: string, length: number, extra = ''): string {
  return (
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${length}\r\n${extra}\r\n`
  );
}

/** The payload of a body sent with `Transfer-Encoding: chunked` (as far as it arrived). */
export function dechunk(body: string): string {
  const pieces: string[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = body.indexOf('\r\n', offset);
    if (lineEnd < 0) break;
    const size = Number.parseInt(body.slice(offset, lineEnd), 16);
    if (!Number.isFinite(size) || size === 0) break;
    pieces.push(body.slice(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
  return pieces.join('');
}
