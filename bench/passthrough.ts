import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { LISTEN_BACKLOG } from '../src/server/gateway.js';

/**
 * The benchmark's baseline: the least a proxy can do. It forwards the request to the upstream
 * and pipes the response body back byte for byte (no parsing, no buffering beyond the socket's
 * own), so "Sluice over pass-through" isolates what parsing, normalising and re-encoding cost.
 */
export interface PassthroughOptions {
  /** Origin of the upstream, e.g. `http://127.0.0.1:9100`; the request path is kept as is. */
  upstream: string;
  host?: string;
  port?: number;
  /** Sees every upstream body chunk before it is forwarded (tests). */
  onUpstreamData?: (chunk: Buffer) => void;
}

export interface Passthrough {
  url: string;
  server: Server;
  /** Errors by code: accepting client connections, and connecting to or reading the upstream. */
  errors(): Record<string, number>;
  close(): Promise<void>;
}

/** RFC 9110 section 7.6.1: connection-specific fields are not forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'host',
]);

function forwardable(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

export async function startPassthrough(options: PassthroughOptions): Promise<Passthrough> {
  const upstream = new URL(options.upstream);
  // Keep every idle upstream socket (the default keeps 256), so 512 streams do not reconnect each round.
  const agent = new Agent({
    keepAlive: true,
    maxSockets: Number.POSITIVE_INFINITY,
    maxFreeSockets: Number.POSITIVE_INFINITY,
    keepAliveMsecs: 30_000,
  });
  const onData = options.onUpstreamData;
  const errors: Record<string, number> = {};
  const count = (where: string, error: unknown): void => {
    const key = `${where} ${(error as { code?: string }).code ?? 'error'}`;
    errors[key] = (errors[key] ?? 0) + 1;
  };

  const server = createServer({ keepAliveTimeout: 65_000 }, (request, response) => {
    const upstreamRequest = httpRequest(
      {
        agent,
        host: upstream.hostname,
        port: upstream.port,
        method: request.method,
        path: request.url,
        headers: forwardable(request.headers),
      },
      (upstreamResponse: IncomingMessage) => {
        response.writeHead(upstreamResponse.statusCode ?? 502, forwardable(upstreamResponse.headers));
        // Headers go out at once, as the upstream sent them, before the first body byte.
        response.flushHeaders();
        if (onData !== undefined) upstreamResponse.on('data', onData);
        upstreamResponse.pipe(response);
        upstreamResponse.on('error', (error) => {
          count('upstream', error);
          response.destroy();
        });
      },
    );
    upstreamRequest.on('error', (error) => {
      count('upstream', error);
      if (!response.headersSent) response.writeHead(502).end();
      else response.destroy();
    });
    // A client that leaves takes its upstream request with it.
    response.on('close', () => {
      if (!response.writableFinished) upstreamRequest.destroy();
    });
    request.pipe(upstreamRequest);
  });
  server.headersTimeout = 20_000;
  // Past the open-file limit accept() fails with EMFILE: counted (the clients see it), not fatal.
  server.on('error', (error) => count('accept', error));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // The gateway's backlog, so both sides of the comparison accept connection bursts alike.
    server.listen(
      { port: options.port ?? 0, host: options.host ?? '127.0.0.1', backlog: LISTEN_BACKLOG },
      () => {
        server.off('error', reject);
        resolve();
      },
    );
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${address.address}:${address.port}`,
    server,
    errors: () => ({ ...errors }),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
