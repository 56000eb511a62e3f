import type { Socket } from 'node:net';
import { Agent, buildConnector, Client, type Dispatcher, Pool, request, errors as undiciErrors } from 'undici';
import { UpstreamError } from '../core/errors.js';

/** What a provider mapping produces: everything needed to make the upstream call. */
export interface UpstreamRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** Response headers as undici gives them: lower-case names, repeated headers as arrays. */
export type ResponseHeaders = Record<string, string | string[] | undefined>;

/** The first value of a response header; `name` in lower case. */
export function headerValue(headers: ResponseHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** An upstream's answer: over HTTP from the transport, or from an in-process provider's `openUpstream`. */
export interface UpstreamResponse {
  status: number;
  headers: ResponseHeaders;
  body: NodeJS.ReadableStream & { destroy(error?: Error): void };
}

/**
 * Whether upstream requests may use HTTP/2 (`SLUICE_UPSTREAM_HTTP2`): `auto` negotiates it by
 * ALPN on `https:` upstreams and keeps HTTP/1.1 on `http:` ones; `h2c` also speaks HTTP/2 with
 * prior knowledge to `http:` upstreams; `off` is HTTP/1.1 everywhere.
 */
export type UpstreamHttp2 = 'auto' | 'h2c' | 'off';

interface TransportOptions {
  connectTimeoutMs: number;
  /** Default `auto`. */
  http2?: UpstreamHttp2;
  /**
   * Streams one HTTP/2 connection carries at once before another is opened to the same origin.
   * 100 is within what common servers advertise (Google 100, nginx 128, Cloudflare 256, Node
   * unlimited): more would wait inside the connection for a slot instead of opening another.
   */
  streamsPerConnection?: number;
}

/** What the caller knows about the upstream: a provider that speaks only HTTP/1.1 (Ollama). */
export interface OpenOptions {
  http1Only?: boolean;
}

const DEFAULT_STREAMS_PER_CONNECTION = 100;

/**
 * Pooled keep-alive HTTP to upstreams, over HTTP/2 where the upstream speaks it (one connection
 * multiplexing many streams) and HTTP/1.1 otherwise. Header and body timeouts are enforced by
 * the generation run (one idle timer that spans waiting for headers and the gaps between
 * chunks, merged into the request's AbortSignal), so undici's own are set far above them as a
 * last safety net. Aborting the signal closes the HTTP/1.1 socket, or resets just that HTTP/2
 * stream (RST_STREAM): either way the upstream sees the request end.
 */
export class Transport {
  private readonly http2: UpstreamHttp2;
  private readonly connectTimeoutMs: number;
  private readonly streamsPerConnection: number;
  private readonly agents = new Map<'http1' | 'alpn' | 'h2c', Agent>();

  constructor(options: TransportOptions) {
    this.http2 = options.http2 ?? 'auto';
    this.connectTimeoutMs = options.connectTimeoutMs;
    this.streamsPerConnection = options.streamsPerConnection ?? DEFAULT_STREAMS_PER_CONNECTION;
  }

  /** Which connections a request to `url` goes over. */
  private agentFor(url: string, options: OpenOptions): Agent {
    const https = url.startsWith('https:');
    const kind =
      options.http1Only === true || this.http2 === 'off'
        ? 'http1'
        : https
          ? 'alpn'
          : this.http2 === 'h2c'
            ? 'h2c'
            : 'http1';
    let agent = this.agents.get(kind);
    if (agent === undefined) {
      agent = kind === 'http1' ? this.http1Agent() : this.multiplexingAgent(kind === 'h2c');
      this.agents.set(kind, agent);
    }
    return agent;
  }

  private http1Agent(): Agent {
    return new Agent({
      connect: { timeout: this.connectTimeoutMs },
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 120_000,
      headersTimeout: 0,
      bodyTimeout: 0,
      connections: null,
      pipelining: 1,
    });
  }

  /**
   * HTTP/2 by ALPN (`https:`) or by prior knowledge (`h2c`, `http:`). undici lets a client run
   * as many requests at once as its `pipelining`, on HTTP/2 too (it does not follow the
   * server's SETTINGS_MAX_CONCURRENT_STREAMS), and the pool opens another connection when every
   * client is full. So a connection that turned out to be HTTP/2 is raised to
   * `streamsPerConnection`, and one that fell back to HTTP/1.1 through ALPN stays at one request
   * at a time (never pipelined). Once an origin has answered in HTTP/2, its new connections
   * start raised, so a burst of requests does not open one connection each.
   */
  private multiplexingAgent(priorKnowledge: boolean): Agent {
    const streams = this.streamsPerConnection;
    const connectTimeoutMs = this.connectTimeoutMs;
    const clientOptions = {
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 120_000,
      headersTimeout: 0,
      bodyTimeout: 0,
      allowH2: true,
    };
    return new Agent({
      ...clientOptions,
      connections: null,
      factory: (origin) => {
        let speaksH2 = priorKnowledge;
        const connector = buildConnector({
          timeout: connectTimeoutMs,
          allowH2: true,
          // Read by undici's connector for `http:` origins: the socket is taken as HTTP/2.
          ...(priorKnowledge ? { useH2c: true } : {}),
        } as buildConnector.BuildOptions);
        return new Pool(origin, {
          ...clientOptions,
          connections: null,
          factory: (clientOrigin) => {
            const client: Client = new Client(clientOrigin, {
              ...clientOptions,
              pipelining: speaksH2 ? streams : 1,
              connect: (connectOptions, callback) => {
                connector(connectOptions, (error, socket) => {
                  if (socket !== null) {
                    const h2 = (socket as Socket & { alpnProtocol?: string | false }).alpnProtocol === 'h2';
                    if (h2) speaksH2 = true;
                    if (client.pipelining !== (h2 ? streams : 1)) client.pipelining = h2 ? streams : 1;
                  }
                  (callback as (error: Error | null, socket: Socket | null) => void)(error, socket);
                });
              },
            });
            return client;
          },
        });
      },
    });
  }

  /**
   * Sends the request; resolves once response headers arrive. Rejects with an UpstreamError
   * whose message names the upstream as `upstreamName` (the provider), never by its address.
   */
  async open(
    upstreamRequest: UpstreamRequest,
    signal: AbortSignal,
    upstreamName: string,
    options: OpenOptions = {},
  ): Promise<UpstreamResponse> {
    try {
      const response = await request(upstreamRequest.url, {
        method: 'POST',
        headers: upstreamRequest.headers,
        body: upstreamRequest.body,
        signal,
        dispatcher: this.agentFor(upstreamRequest.url, options),
        // undici runs a request it calls non-idempotent (any POST) alone on an HTTP/2 connection;
        // the flag has no other effect here (undici never replays a request: the gateway's retry
        // policy decides), and HTTP/1.1 connections take one request at a time regardless.
        idempotent: true,
      } as Parameters<typeof request>[1] & { dispatcher: Dispatcher });
      return {
        status: response.statusCode,
        headers: response.headers as ResponseHeaders,
        body: response.body,
      };
    } catch (error) {
      if (signal.aborted) throw signal.reason ?? error;
      throw toUpstreamError(error, upstreamName);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.agents.values()].map((agent) => agent.close()));
    this.agents.clear();
  }
}

/** HTTP/2 session and stream failures (GOAWAY, RST_STREAM, a session torn down) by their codes. */
const HTTP2_DISCONNECTS = new Set([
  'ERR_HTTP2_STREAM_ERROR',
  'ERR_HTTP2_STREAM_CANCEL',
  'ERR_HTTP2_GOAWAY_SESSION',
  'ERR_HTTP2_SESSION_ERROR',
  'ERR_HTTP2_INVALID_SESSION',
  'ERR_HTTP2_ERROR',
]);

/**
 * Connection-level failures: all retryable. Messages name the upstream by `name` (the provider),
 * never by host, port or URL: error frames reach clients, and addresses are internal.
 */
export function toUpstreamError(error: unknown, name: string): UpstreamError {
  const code = (error as { code?: string } | null)?.code;
  if (error instanceof undiciErrors.ConnectTimeoutError || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new UpstreamError('timeout', `connecting to ${name} timed out`, { retryable: true, cause: error });
  }
  if (code === 'ECONNREFUSED') {
    return new UpstreamError('upstream_error', `connection refused by ${name}`, {
      retryable: true,
      cause: error,
    });
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new UpstreamError('upstream_error', `could not resolve ${name}`, {
      retryable: true,
      cause: error,
    });
  }
  if (
    code === 'ECONNRESET' ||
    code === 'UND_ERR_SOCKET' ||
    code === 'EPIPE' ||
    (code !== undefined && HTTP2_DISCONNECTS.has(code)) ||
    // undici's own word for an HTTP/2 stream that closed or was reset before its response ended.
    (code === 'UND_ERR_INFO' && /HTTP\/2/.test((error as Error).message))
  ) {
    return new UpstreamError('upstream_disconnected', `the connection to ${name} was reset`, {
      retryable: true,
      cause: error,
    });
  }
  return new UpstreamError('upstream_error', `request to ${name} failed`, { retryable: true, cause: error });
}

/** Reads a (small) error body, bounded in size. */
export async function readBodyText(body: UpstreamResponse['body'], limitBytes = 64 * 1024): Promise<string> {
  const pieces: Buffer[] = [];
  let total = 0;
  for await (const piece of body as AsyncIterable<Buffer>) {
    if (total < limitBytes) pieces.push(piece.subarray(0, limitBytes - total));
    total += piece.length;
  }
  return Buffer.concat(pieces).toString('utf8');
}
