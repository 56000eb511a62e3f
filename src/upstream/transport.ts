import type { Socket } from 'node:net';
import { Agent, buildConnector, Client, errors as undiciErrors } from 'undici';
import type { AbortWatch } from '../core/abort.js';
import { UpstreamError } from '../core/errors.js';
import { dispatchRequest, type UpstreamBody, type UrlParts, urlParts } from './dispatch.js';

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
  body: UpstreamBody;
}

/**
 * Whether upstream requests may use HTTP/2 (`SLUICE_UPSTREAM_HTTP2`): `auto` negotiates it by
 * ALPN on `https:` upstreams, and on `http:` ones starts with HTTP/1.1 and moves to HTTP/2 with
 * prior knowledge once the upstream advertises it (`Upgrade: h2c` on a response); `h2c` speaks
 * HTTP/2 with prior knowledge to every `http:` upstream from the start; `off` is HTTP/1.1
 * everywhere.
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
 * HTTP/2 connection-level receive window: what an upstream may send on one connection ahead of
 * the gateway's reads (each stream's own window stays undici's 256 KB). The gateway reads every
 * stream as it arrives, so this bounds a backlog only while its event loop is behind.
 */
const CONNECTION_WINDOW_BYTES = 4 * 1024 * 1024;

/** Most `http:` origins remembered as advertising h2c (or as having failed it): a handful in practice. */
const MAX_REMEMBERED_ORIGINS = 256;

/** The response advertises HTTP/2 with prior knowledge: `h2c` among its `Upgrade` protocols. */
export function advertisesH2c(headers: ResponseHeaders): boolean {
  const value = headers.upgrade;
  if (value === undefined) return false;
  for (const list of Array.isArray(value) ? value : [value]) {
    for (const protocol of list.split(',')) if (protocol.trim().toLowerCase() === 'h2c') return true;
  }
  return false;
}

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
  private http1: Agent | undefined;
  /** Per origin (`https:` by ALPN, `http:` by prior knowledge): its HTTP/2-capable connections. */
  private readonly multiplexed = new Map<string, MultiplexedOrigin>();
  /**
   * Under `auto`, `http:` origins by what they showed: `h2c` advertised it on an HTTP/1.1
   * response (requests go over HTTP/2 from then on), `http1` failed it once (never tried again).
   */
  private readonly cleartext = new Map<string, 'h2c' | 'http1'>();

  constructor(options: TransportOptions) {
    this.http2 = options.http2 ?? 'auto';
    this.connectTimeoutMs = options.connectTimeoutMs;
    this.streamsPerConnection = options.streamsPerConnection ?? DEFAULT_STREAMS_PER_CONNECTION;
  }

  /** Which connections a request to `url` goes over: the HTTP/1.1 pool, or an origin's multiplexed ones. */
  private route(target: UrlParts, options: OpenOptions): Agent | MultiplexedOrigin {
    const https = target.https;
    const multiplex =
      options.http1Only !== true &&
      this.http2 !== 'off' &&
      (https || this.http2 === 'h2c' || this.cleartext.get(target.origin) === 'h2c');
    if (!multiplex) {
      this.http1 ??= new Agent({
        connect: { timeout: this.connectTimeoutMs },
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 120_000,
        headersTimeout: 0,
        bodyTimeout: 0,
        connections: null,
        pipelining: 1,
      });
      return this.http1;
    }
    let origin = this.multiplexed.get(target.origin);
    if (origin === undefined) {
      origin = new MultiplexedOrigin(target.origin, !https, this.connectTimeoutMs, this.streamsPerConnection);
      origin.advertised = !https && this.http2 === 'auto';
      this.multiplexed.set(target.origin, origin);
      if (origin.advertised) {
        // A server that advertised h2c but sits silent on the preface fails no request: it only
        // stalls them. Unanswered within the connect bound, the origin goes back to HTTP/1.1 (a
        // request still waiting on it ends by its own timeout, and its retry goes over HTTP/1.1).
        const advertised = origin;
        setTimeout(() => this.abandonAdvertised(advertised), this.connectTimeoutMs).unref();
      }
    }
    return origin;
  }

  /**
   * Sends the request; resolves once response headers arrive. Rejects with an UpstreamError
   * whose message names the upstream as `upstreamName` (the provider), never by its address.
   */
  async open(
    upstreamRequest: UpstreamRequest,
    signal: AbortWatch,
    upstreamName: string,
    options: OpenOptions = {},
  ): Promise<UpstreamResponse> {
    try {
      const target = urlParts(upstreamRequest.url);
      const route = this.route(target, options);
      if (!(route instanceof MultiplexedOrigin)) {
        const response = await dispatchRequest(route, upstreamRequest, signal, { idempotent: true });
        if (this.http2 === 'auto' && options.http1Only !== true) this.learn(target, response);
        return response;
      }
      const negotiating = route.negotiating();
      if (negotiating !== undefined) await negotiating;
      try {
        // Chosen and dispatched in one go (no await between): the next request sees this one counted.
        // undici runs a request it calls non-idempotent (any POST) alone on an HTTP/2 connection;
        // the flag has no other effect here (undici never replays a request: the gateway's retry
        // policy decides), and HTTP/1.1 connections take one request at a time regardless.
        const response = await dispatchRequest(route.pick(), upstreamRequest, signal, { idempotent: true });
        route.answered = true;
        return response;
      } catch (error) {
        if (signal.aborted || neverConnected(error)) throw error;
        if (spokeHttp2(error)) {
          // A stream reset or a GOAWAY: the origin does speak HTTP/2, and the run decides.
          route.answered = true;
          throw error;
        }
        if (!this.abandonAdvertised(route)) throw error;
        // The upstream advertised h2c but has never answered over it: nothing of this request was
        // understood, so it goes again over HTTP/1.1, as every later one will.
        const http1 = this.route(target, options);
        if (http1 instanceof MultiplexedOrigin) throw error;
        return await dispatchRequest(http1, upstreamRequest, signal, { idempotent: true });
      }
    } catch (error) {
      if (signal.aborted) throw signal.reason ?? error;
      throw toUpstreamError(error, upstreamName);
    }
  }

  /** An `http:` upstream's HTTP/1.1 response advertised h2c: its next requests go over HTTP/2. */
  private learn(target: UrlParts, response: UpstreamResponse): void {
    if (target.https || this.cleartext.has(target.origin) || !advertisesH2c(response.headers)) return;
    if (this.cleartext.size >= MAX_REMEMBERED_ORIGINS) return;
    this.cleartext.set(target.origin, 'h2c');
  }

  /**
   * An origin taken to HTTP/2 by its advertisement failed, or stayed silent, before any answer
   * over it: back to HTTP/1.1 for good. False when the origin is not such a one (configured h2c,
   * ALPN, answered).
   */
  private abandonAdvertised(route: MultiplexedOrigin): boolean {
    if (!route.advertised || route.answered) return false;
    // The first of its requests to fail closes it; the others in flight fall back as well.
    if (this.cleartext.get(route.origin) === 'h2c') {
      this.cleartext.set(route.origin, 'http1');
      this.multiplexed.delete(route.origin);
      route.close().catch(() => {});
    }
    return true;
  }

  async close(): Promise<void> {
    const closing = [...this.multiplexed.values()].map((origin) => origin.close());
    if (this.http1 !== undefined) closing.push(this.http1.close());
    this.multiplexed.clear();
    this.http1 = undefined;
    await Promise.all(closing);
  }
}

/**
 * The connections to one origin that may speak HTTP/2: by ALPN (`https:`) or by prior knowledge
 * (`h2c` on `http:`). undici's own pool is not used here: it opens another connection whenever
 * its clients have a request not yet written (all of them, while the first connection is being
 * made), so a burst of streams would open one connection each; and a client runs at most
 * `pipelining` requests at once, on HTTP/2 too (it does not follow the server's
 * SETTINGS_MAX_CONCURRENT_STREAMS). So each connection here takes up to `streams` requests once
 * it is known to speak HTTP/2 (from the start with prior knowledge, else once one connection
 * to the origin negotiated `h2`), and one at a time when ALPN fell back to HTTP/1.1 (never
 * pipelined). A new connection opens only when every one is full. Until an `https:` origin's
 * first connection has negotiated, the requests that arrive meanwhile wait for it (at most the
 * connect timeout), so a first burst does not open one connection each.
 */
class MultiplexedOrigin {
  /** `protocol`: what the connection negotiated, `unknown` before it connects. */
  private readonly clients: { client: Client; protocol: 'unknown' | 'h1' | 'h2' }[] = [];
  /** The origin answered in HTTP/2 (or is spoken to with prior knowledge). */
  private speaksH2: boolean;
  private readonly connector: buildConnector.connector;
  /** The origin answered in HTTP/1.1 through ALPN: no more waiting to find out. */
  private speaksHttp1 = false;
  /** Settles when the first connection to an origin of unknown protocol has negotiated (or failed). */
  private probe: Promise<void> | undefined;
  private settleProbe: (() => void) | undefined;

  /** A response came over one of these connections: the origin does speak what they use. */
  answered = false;
  /** Taken to HTTP/2 because the `http:` origin advertised h2c (`auto`), not by configuration. */
  advertised = false;

  constructor(
    readonly origin: string,
    priorKnowledge: boolean,
    connectTimeoutMs: number,
    private readonly streams: number,
  ) {
    this.speaksH2 = priorKnowledge;
    this.connector = buildConnector({
      timeout: connectTimeoutMs,
      allowH2: true,
      // Read by undici's connector for `http:` origins: the socket is taken as HTTP/2.
      ...(priorKnowledge ? { useH2c: true } : {}),
    } as buildConnector.BuildOptions);
  }

  /**
   * While the origin's first connection is negotiating its protocol: a promise that settles when
   * it has (or failed). Undefined when there is nothing to wait for, so the caller picks at once.
   */
  negotiating(): Promise<void> | undefined {
    return this.speaksH2 || this.speaksHttp1 ? undefined : this.probe;
  }

  /**
   * A connection with room for one more stream, opened when none has. The caller dispatches on
   * it before anything else runs, so the next pick counts that stream.
   */
  pick(): Client {
    for (const entry of this.clients) {
      const h2 = entry.protocol === 'h2' || (entry.protocol === 'unknown' && this.speaksH2);
      if (entry.client.stats.size < (h2 ? this.streams : 1)) {
        if (h2 && entry.client.pipelining < this.streams) entry.client.pipelining = this.streams;
        return entry.client;
      }
    }
    const entry: (typeof this.clients)[number] = {
      client: undefined as unknown as Client,
      protocol: this.speaksH2 ? 'h2' : 'unknown',
    };
    if (!this.speaksH2 && !this.speaksHttp1) {
      this.probe = new Promise((resolve) => {
        this.settleProbe = resolve;
      });
    }
    entry.client = new Client(this.origin, {
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 120_000,
      headersTimeout: 0,
      bodyTimeout: 0,
      allowH2: true,
      // The connection's flow-control window, shared by up to `streams` streams (undici's 512 KB
      // paces 64 fast streams at the upstream's round trip to the gateway's event loop).
      connectionWindowSize: CONNECTION_WINDOW_BYTES,
      pipelining: this.speaksH2 ? this.streams : 1,
      connect: (connectOptions, callback) => {
        this.connector(connectOptions, (error, socket) => {
          if (!error && socket) {
            const h2 = (socket as Socket & { alpnProtocol?: string | false }).alpnProtocol === 'h2';
            entry.protocol = h2 ? 'h2' : 'h1';
            if (h2) this.speaksH2 = true;
            else this.speaksHttp1 = true;
            const pipelining = h2 ? this.streams : 1;
            if (entry.client.pipelining !== pipelining) entry.client.pipelining = pipelining;
          }
          (callback as (error: Error | null, socket: Socket | null) => void)(error, socket);
          // A failed connection settles it too: the next request tries its own.
          this.settleProbe?.();
          this.probe = undefined;
          this.settleProbe = undefined;
        });
      },
    });
    this.clients.push(entry);
    return entry.client;
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((entry) => entry.client.close()));
  }
}

/** Failures before a connection was made: they say nothing of the protocol the origin speaks. */
const CONNECT_FAILURES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

function codeOf(error: unknown): string | undefined {
  return (error as { code?: string } | null)?.code;
}

function neverConnected(error: unknown): boolean {
  const code = codeOf(error);
  return code !== undefined && CONNECT_FAILURES.has(code);
}

/** HTTP/2 failures only a peer that speaks HTTP/2 causes: a stream reset (RST_STREAM) or a GOAWAY. */
const HTTP2_PEER_FAILURES = new Set([
  'ERR_HTTP2_STREAM_ERROR',
  'ERR_HTTP2_STREAM_CANCEL',
  'ERR_HTTP2_GOAWAY_SESSION',
]);

/** HTTP/2 session and stream failures (those, and a session torn down) by their codes. */
const HTTP2_DISCONNECTS = new Set([
  ...HTTP2_PEER_FAILURES,
  'ERR_HTTP2_SESSION_ERROR',
  'ERR_HTTP2_INVALID_SESSION',
  'ERR_HTTP2_ERROR',
]);

/** The failure came from an HTTP/2 peer: by its code, or by undici's words for a reset stream or a GOAWAY. */
function spokeHttp2(error: unknown): boolean {
  const code = codeOf(error);
  if (code !== undefined && HTTP2_PEER_FAILURES.has(code)) return true;
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' && /GOAWAY|RST_STREAM|HTTP\/2: (stream|"stream error")/.test(message);
}

/**
 * Connection-level failures: all retryable. Messages name the upstream by `name` (the provider),
 * never by host, port or URL: error frames reach clients, and addresses are internal.
 */
export function toUpstreamError(error: unknown, name: string): UpstreamError {
  const code = codeOf(error);
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
export function readBodyText(body: UpstreamBody, limitBytes = 64 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    const pieces: Buffer[] = [];
    let total = 0;
    body.on('data', (piece) => {
      if (total < limitBytes) pieces.push(piece.subarray(0, limitBytes - total));
      total += piece.length;
    });
    body.on('end', () => resolve(Buffer.concat(pieces).toString('utf8')));
    body.on('error', reject);
  });
}
