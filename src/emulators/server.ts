import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  createServer as createHttp2Server,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
  constants as http2Constants,
} from 'node:http2';
import {
  type AddressInfo,
  createServer as createNetServer,
  type Server as NetServer,
  type Socket,
} from 'node:net';
import {
  answerPieces,
  continueAnswer,
  roughTokens,
  splitPieces,
  thinkingPieces,
  toolCallFor,
} from './content.js';
import type {
  EmulatedFinish,
  EmulatedRefusal,
  EmulatedRequest,
  EmulatorDialect,
  Fault,
  ResponseContext,
  Scenario,
} from './types.js';

const MAX_BODY_BYTES = 16 * 1024 * 1024;
const MAX_RECORDED = 50;
/** What an HTTP/2 client with prior knowledge sends first (RFC 9113, section 3.4). */
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** A request and its response, over HTTP/1.1 (node:http) or HTTP/2 (the http2 compatibility API). */
type AnyRequest = IncomingMessage | Http2ServerRequest;
type AnyResponse = ServerResponse | Http2ServerResponse;

/** Connections the emulator accepted, by protocol: how tests see upstream multiplexing. */
export interface ConnectionCounters {
  /** HTTP/1.1 connections accepted since the start (or the last reset). */
  http1: number;
  /** HTTP/2 (h2c) connections accepted, each one session. */
  http2: number;
  /** Connections open now, both protocols. */
  open: number;
}

export interface ProviderCounters {
  /** Requests that reached the dialect (HTTP errors and retries included). */
  requests: number;
  /** Streams currently being written. */
  active: number;
  /** Streams whose client went away before the emulator finished. */
  closedByClient: number;
  /** `Date.now()` of the last close by a client. */
  lastClientCloseAt: number | undefined;
  /** The last request bodies, newest last. */
  bodies: unknown[];
  /** The last request headers, newest last. */
  headers: Record<string, string | string[] | undefined>[];
  /** Requests that came over HTTP/2 (the rest came over HTTP/1.1). */
  http2Requests: number;
  /** Distinct connections (HTTP/1.1 sockets, HTTP/2 sessions) these requests came on. */
  connections: number;
}

export interface EmulatorServerOptions {
  dialects: readonly EmulatorDialect[];
  host?: string;
  port?: number;
  /** Pacing and content used when a test has not scripted the next response. */
  defaults?: Scenario;
  /**
   * Serve `/__control/*` so a test or benchmark in another process can script responses.
   * Off by default; the gateway only ever calls provider paths, so no gateway client reaches it.
   */
  control?: boolean;
  /**
   * Advertise HTTP/2 with prior knowledge on every HTTP/1.1 response (`Upgrade: h2c`, as Apache's
   * mod_http2 does), so a client that reads it (the gateway's `auto`) moves to HTTP/2. On by
   * default: the emulator speaks both on one port.
   */
  advertiseH2c?: boolean;
}

const DEFAULT_SCENARIO: Required<Pick<Scenario, 'ttftMs' | 'chunkDelayMs' | 'chunks' | 'thinkingChunks'>> = {
  ttftMs: 150,
  chunkDelayMs: 25,
  chunks: 40,
  thinkingChunks: 12,
};

type Piece = { kind: 'thinking' | 'text'; text: string } | { kind: 'tool' };

function newCounters(): ProviderCounters {
  return {
    requests: 0,
    active: 0,
    closedByClient: 0,
    lastClientCloseAt: undefined,
    bodies: [],
    headers: [],
    http2Requests: 0,
    connections: 0,
  };
}

function pushBounded<T>(list: T[], item: T): void {
  list.push(item);
  if (list.length > MAX_RECORDED) list.shift();
}

/**
 * One loopback HTTP server hosting every provider dialect under its own prefix
 * (`/openai/v1/chat/completions`, `/anthropic/v1/messages`, ...). Tests script the next
 * responses (pace, content, faults) through `enqueue`; nothing in a request can choose them.
 *
 * It speaks HTTP/1.1 and HTTP/2 with prior knowledge (h2c) on the same port: each connection's
 * first bytes decide, the HTTP/2 preface going to a node:http2 server, anything else to the
 * node:http one. Both reach the same handlers (the http2 compatibility API has the same shape).
 */
export class EmulatorServer {
  private readonly listener: NetServer;
  private readonly server: Server;
  private readonly http2Server: Http2Server;
  private readonly sockets = new Set<Socket>();
  private readonly sessions = new Set<Http2Session>();
  private connectionCounts = { http1: 0, http2: 0 };
  /** Per provider, the connections its requests came on since the last reset. */
  private seenConnections = new Map<string, WeakSet<object>>();
  private readonly dialects: readonly EmulatorDialect[];
  private readonly scripts = new Map<string, Scenario[]>();
  private readonly counters = new Map<string, ProviderCounters>();
  private defaults: Scenario;
  private readonly host: string;
  private readonly port: number;
  private readonly control: boolean;
  private origin = '';

  constructor(options: EmulatorServerOptions) {
    this.dialects = options.dialects;
    this.host = options.host ?? '127.0.0.1';
    this.port = options.port ?? 0;
    this.control = options.control ?? false;
    this.defaults = { ...DEFAULT_SCENARIO, ...options.defaults };
    for (const dialect of this.dialects) this.counters.set(dialect.provider, newCounters());
    const advertise = options.advertiseH2c ?? true;
    const serve = (request: AnyRequest, response: AnyResponse): void => {
      // Informational on a response other than 101 (RFC 9110 section 7.8): nothing switches.
      if (advertise && request.httpVersionMajor === 1) {
        response.setHeader('upgrade', 'h2c');
        // Set by hand, the header replaces node:http's own: keep its word on closing.
        const keepAlive = (response as ServerResponse).shouldKeepAlive;
        response.setHeader('connection', keepAlive ? 'Upgrade' : 'close, Upgrade');
      }
      this.handle(request, response).catch(() => {
        if (!response.headersSent) response.writeHead(500).end();
        else response.destroy();
      });
    };
    this.server = createServer(serve);
    this.server.keepAliveTimeout = 60_000;
    // Thousands of streams on one session: no limit below what a client may open.
    this.http2Server = createHttp2Server({ settings: { maxConcurrentStreams: 100_000 } }, serve);
    this.http2Server.on('session', (session) => {
      this.sessions.add(session);
      session.once('close', () => this.sessions.delete(session));
    });
    // node:http's own servers set noDelay; without it, small chunks wait on Nagle's algorithm.
    this.listener = createNetServer({ noDelay: true }, (socket) => this.route(socket));
  }

  /** Hands a new connection to the HTTP/2 server when it starts with the preface, else to HTTP/1.1. */
  private route(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let head: Buffer = Buffer.alloc(0);
    const onData = (piece: Buffer): void => {
      head = head.length === 0 ? piece : Buffer.concat([head, piece]);
      const compared = Math.min(head.length, H2_PREFACE.length);
      const h2 = head.subarray(0, compared).equals(H2_PREFACE.subarray(0, compared));
      // A prefix of the preface: wait for the rest (an HTTP/1.1 `POST` shares its first letter).
      if (h2 && head.length < H2_PREFACE.length) return;
      socket.off('data', onData);
      socket.pause();
      socket.unshift(head);
      if (h2) {
        // node:http2 reads what is already buffered on the socket, then takes over its handle.
        this.connectionCounts.http2++;
        this.http2Server.emit('connection', socket);
      } else {
        this.connectionCounts.http1++;
        this.server.emit('connection', socket);
        socket.resume();
      }
    };
    socket.on('data', onData);
  }

  /** Connections accepted by protocol, and open now. */
  connections(): ConnectionCounters {
    return { ...this.connectionCounts, open: this.sockets.size };
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.listener.once('error', reject);
      // Thousands of connections at once (a benchmark's HTTP/1.1 clients) wait in a deep queue.
      this.listener.listen({ port: this.port, host: this.host, backlog: 4096 }, () => resolve());
    });
    const address = this.listener.address() as AddressInfo;
    this.origin = `http://${this.host}:${address.port}`;
    return this.origin;
  }

  /** The base URL to configure the gateway with for one provider. */
  baseUrl(provider: string): string {
    const dialect = this.dialects.find((entry) => entry.provider === provider);
    if (dialect === undefined) throw new Error(`no emulator for provider ${provider}`);
    return `${this.origin}${dialect.mount}${dialect.baseSuffix}`;
  }

  /** Scripts the next responses of one provider, in order. */
  enqueue(provider: string, ...scenarios: Scenario[]): void {
    const queue = this.scripts.get(provider) ?? [];
    queue.push(...scenarios);
    this.scripts.set(provider, queue);
  }

  setDefaults(scenario: Scenario): void {
    this.defaults = { ...this.defaults, ...scenario };
  }

  stats(provider: string): ProviderCounters {
    const counters = this.counters.get(provider);
    if (counters === undefined) throw new Error(`no emulator for provider ${provider}`);
    return counters;
  }

  /** Forgets scripts and counters (between tests). */
  reset(): void {
    this.scripts.clear();
    for (const dialect of this.dialects) this.counters.set(dialect.provider, newCounters());
    this.connectionCounts = { http1: 0, http2: 0 };
    this.seenConnections.clear();
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.listener.close(() => resolve()));
    for (const session of this.sessions) session.destroy();
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private async handle(request: AnyRequest, response: AnyResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://emulator');
    if (this.control && url.pathname.startsWith('/__control/')) {
      await this.handleControl(request, response, url.pathname.slice('/__control/'.length));
      return;
    }
    const dialect = this.dialects.find((entry) => url.pathname.startsWith(`${entry.mount}/`));
    const route = dialect?.route(request.method ?? 'GET', url.pathname.slice(dialect.mount.length));
    if (dialect === undefined || route === undefined) {
      response.writeHead(404, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({ error: { message: `no emulated route ${request.method} ${url.pathname}` } }),
      );
      return;
    }
    const raw = await readBody(request);
    const counters = this.stats(dialect.provider);
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      response.writeHead(400, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: { message: 'invalid JSON body' } }));
      return;
    }
    counters.requests++;
    if (request.httpVersionMajor === 2) counters.http2Requests++;
    // An HTTP/2 request's socket is a proxy per stream; its session is the connection.
    const connection = 'stream' in request ? request.stream.session : request.socket;
    const seen = this.seenConnections.get(dialect.provider) ?? new WeakSet<object>();
    this.seenConnections.set(dialect.provider, seen);
    if (connection && !seen.has(connection)) {
      seen.add(connection);
      counters.connections++;
    }
    pushBounded(counters.bodies, body);
    pushBounded(counters.headers, { ...request.headers });
    const parsed = dialect.parseRequest(body, route, url);
    const context: ResponseContext = {
      id: randomBytes(12).toString('hex'),
      model: 'error' in parsed ? 'unknown' : parsed.model,
      created: Math.floor(Date.now() / 1000),
      request: 'error' in parsed ? emptyRequest() : parsed,
      state: {},
    };
    if (!dialect.authorized(request.headers, url)) {
      this.writeHttpError(dialect, response, 401, context);
      return;
    }
    if ('error' in parsed) {
      this.writeHttpError(dialect, response, 400, context, undefined, parsed);
      return;
    }
    const scenario: Scenario = { ...this.defaults, ...this.scripts.get(dialect.provider)?.shift() };
    if (scenario.fault?.type === 'http') {
      this.writeHttpError(dialect, response, scenario.fault.status, context, scenario.fault.retryAfter);
      return;
    }
    if (!parsed.stream) {
      this.writeHttpError(dialect, response, 400, context);
      return;
    }
    await this.stream(dialect, response, context, scenario, counters);
  }

  /**
   * `POST /__control/enqueue {provider, scenarios}`, `POST /__control/defaults {scenario}`,
   * `POST /__control/reset`, `GET /__control/stats?provider=p`, `GET /__control/connections`.
   */
  private async handleControl(request: AnyRequest, response: AnyResponse, action: string): Promise<void> {
    const reply = (status: number, body: unknown): void => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    try {
      if (action.startsWith('stats')) {
        const provider = new URL(request.url ?? '/', 'http://emulator').searchParams.get('provider') ?? '';
        reply(200, this.stats(provider));
        return;
      }
      if (action === 'connections') {
        reply(200, this.connections());
        return;
      }
      const body = JSON.parse((await readBody(request)) || '{}') as {
        provider?: string;
        scenarios?: Scenario[];
        scenario?: Scenario;
      };
      if (action === 'enqueue' && body.provider && Array.isArray(body.scenarios)) {
        this.enqueue(body.provider, ...body.scenarios);
      } else if (action === 'defaults' && body.scenario) {
        this.setDefaults(body.scenario);
      } else if (action === 'reset') {
        this.reset();
      } else {
        reply(400, { error: `unknown control action ${action}` });
        return;
      }
      reply(200, { ok: true });
    } catch (error) {
      reply(400, { error: error instanceof Error ? error.message : 'bad control request' });
    }
  }

  private writeHttpError(
    dialect: EmulatorDialect,
    response: AnyResponse,
    status: number,
    context: ResponseContext,
    retryAfter?: string,
    refusal?: EmulatedRefusal,
  ): void {
    const error = dialect.httpError(status, context, refusal);
    const headers: Record<string, string> = { 'content-type': 'application/json', ...error.headers };
    if (retryAfter !== undefined) headers['retry-after'] = retryAfter;
    response.writeHead(status, headers);
    response.end(error.body);
  }

  private plan(dialect: EmulatorDialect, context: ResponseContext, scenario: Scenario): Piece[] {
    const pieces: Piece[] = [];
    if (context.request.thinking) {
      for (const text of thinkingPieces(scenario.thinkingChunks ?? 0))
        pieces.push({ kind: 'thinking', text });
    }
    const wantsTool = scenario.toolCall ?? context.request.tools.length > 0;
    if (wantsTool && context.request.tools.length > 0) {
      pieces.push({ kind: 'tool' });
      return pieces;
    }
    let text =
      scenario.text !== undefined
        ? splitPieces(scenario.text)
        : answerPieces(dialect.provider, context.request, scenario.chunks ?? 1);
    const continuation = context.request.continuation;
    if (continuation !== undefined) {
      // The same answer the original request had, from where the partial one stops.
      const rest = continueAnswer(text.join(''), continuation.partial, continuation.style);
      if (rest !== undefined) text = splitPieces(rest);
    }
    for (const piece of text) pieces.push({ kind: 'text', text: piece });
    return pieces;
  }

  private async stream(
    dialect: EmulatorDialect,
    response: AnyResponse,
    context: ResponseContext,
    scenario: Scenario,
    counters: ProviderCounters,
  ): Promise<void> {
    const pieces = this.plan(dialect, context, scenario);
    const fault: Fault | undefined = scenario.fault;
    let finished = false;
    // An HTTP/2 response has no `destroyed`: its close (the client's RST_STREAM, or the end) is noted here.
    let gone = false;
    counters.active++;
    response.on('close', () => {
      gone = true;
      counters.active--;
      if (!finished) {
        counters.closedByClient++;
        counters.lastClientCloseAt = Date.now();
      }
    });
    response.writeHead(200, { 'content-type': dialect.contentType, 'cache-control': 'no-cache' });
    // Both responses have these at run time (the http2 one's flushHeaders is untyped).
    const writer = response as ServerResponse;
    writer.flushHeaders();

    const closed = (): boolean =>
      gone || response.writableEnded || (response as ServerResponse).destroyed === true;
    const write = async (events: string[]): Promise<void> => {
      for (const event of events) {
        if (closed()) return;
        if (!writer.write(event))
          await new Promise<void>((resolve) => {
            const done = (): void => {
              response.off('drain', done);
              response.off('close', done);
              resolve();
            };
            response.on('drain', done);
            response.on('close', done);
          });
      }
    };
    const sleep = (ms: number): Promise<void> =>
      ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms));

    await sleep(scenario.ttftMs ?? 0);
    if (closed()) return;
    await write(dialect.begin(context));
    let thinkingText = '';
    let answerText = '';
    let toolIndex = 0;
    let delivered = 0;
    for (const piece of pieces) {
      if (closed()) return;
      if (fault !== undefined && fault.type !== 'http' && delivered === fault.afterChunks) {
        await this.applyFault(dialect, response, context, fault, write);
        finished = fault.type !== 'stall';
        return;
      }
      if (delivered > 0) await sleep(scenario.chunkDelayMs ?? 0);
      if (closed()) return;
      if (piece.kind === 'thinking') {
        thinkingText += piece.text;
        await write(dialect.thinking(piece.text, context));
      } else if (piece.kind === 'text') {
        answerText += piece.text;
        await write(dialect.text(piece.text, context));
      } else {
        const call = toolCallFor(context.request, `call_${context.id.slice(0, 16)}_${toolIndex}`);
        if (call !== undefined) await write(dialect.toolCall(call, toolIndex++, context));
      }
      delivered++;
    }
    if (fault !== undefined && fault.type !== 'http' && delivered <= fault.afterChunks) {
      await this.applyFault(dialect, response, context, fault, write);
      finished = fault.type !== 'stall';
      return;
    }
    const reason: EmulatedFinish = scenario.finish ?? (toolIndex > 0 ? 'tool_calls' : 'stop');
    const usage = {
      inputTokens: roughTokens(context.request.prompt) + 8,
      outputTokens: roughTokens(answerText) + roughTokens(thinkingText) + toolIndex * 12,
      thinkingTokens: thinkingText.length > 0 ? roughTokens(thinkingText) : 0,
    };
    if (closed()) return;
    await write(dialect.finish(reason, usage, context));
    finished = true;
    response.end();
  }

  private async applyFault(
    dialect: EmulatorDialect,
    response: AnyResponse,
    context: ResponseContext,
    fault: Exclude<Fault, { type: 'http' }>,
    write: (events: string[]) => Promise<void>,
  ): Promise<void> {
    switch (fault.type) {
      case 'reset':
        // Give what was written time to be read: an RST discards unread data at the receiver.
        if (fault.afterChunks > 0) await new Promise((resolve) => setTimeout(resolve, 30));
        if ('stream' in response) {
          // Over HTTP/2 a reset ends this stream only (RST_STREAM), as a proxy in front of a
          // provider does; the connection's other streams go on.
          response.stream.close(http2Constants.NGHTTP2_INTERNAL_ERROR);
          return;
        }
        response.socket?.resetAndDestroy();
        response.destroy();
        return;
      case 'goaway':
        if (fault.afterChunks > 0) await new Promise((resolve) => setTimeout(resolve, 30));
        if ('stream' in response) {
          // The whole connection goes away, every stream on it with it.
          const session = response.stream.session;
          session?.goaway(http2Constants.NGHTTP2_INTERNAL_ERROR);
          session?.destroy();
          return;
        }
        response.socket?.resetAndDestroy();
        response.destroy();
        return;
      case 'stall':
        // Keep the socket open and write nothing more; the client's idle timeout must act.
        return;
      case 'malformed':
        await write([dialect.malformed(context)]);
        response.end();
        return;
      case 'midstream_error':
        await write(dialect.midstreamError(fault.kind ?? 'overloaded', context));
        response.end();
        return;
      case 'no_finish':
        response.end();
        return;
      case 'content_filter': {
        const usage = { inputTokens: 8, outputTokens: fault.afterChunks, thinkingTokens: 0 };
        await write(dialect.finish('content_filter', usage, context));
        response.end();
        return;
      }
      default: {
        const exhaustive: never = fault;
        throw new Error(`unknown fault ${JSON.stringify(exhaustive)}`);
      }
    }
  }
}

function emptyRequest(): EmulatedRequest {
  return {
    model: 'unknown',
    prompt: '',
    tools: [],
    thinking: false,
    maxTokens: undefined,
    stream: true,
    flags: {},
  };
}

async function readBody(request: AnyRequest): Promise<string> {
  const pieces: Buffer[] = [];
  let total = 0;
  for await (const piece of request as AsyncIterable<Buffer>) {
    total += piece.length;
    if (total > MAX_BODY_BYTES) throw new Error('body too large');
    pieces.push(piece);
  }
  return Buffer.concat(pieces).toString('utf8');
}
