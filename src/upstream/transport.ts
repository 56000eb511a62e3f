import { Agent, errors as undiciErrors } from 'undici';
import { UpstreamError } from '../core/errors.js';
import { dispatchRequest, type UpstreamBody } from './dispatch.js';

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

interface TransportOptions {
  connectTimeoutMs: number;
}

/**
 * Pooled keep-alive HTTP to upstreams. Header and body timeouts are enforced by the generation
 * run (one idle timer that spans waiting for headers and the gaps between chunks, merged into
 * the request's AbortSignal), so undici's own are set far above them as a last safety net.
 */
export class Transport {
  private readonly agent: Agent;

  constructor(options: TransportOptions) {
    this.agent = new Agent({
      connect: { timeout: options.connectTimeoutMs },
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 120_000,
      headersTimeout: 0,
      bodyTimeout: 0,
      connections: null,
      pipelining: 1,
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
  ): Promise<UpstreamResponse> {
    try {
      return await dispatchRequest(this.agent, upstreamRequest, signal);
    } catch (error) {
      if (signal.aborted) throw signal.reason ?? error;
      throw toUpstreamError(error, upstreamName);
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

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
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') {
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
