import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  createSecureServer,
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from 'node:http2';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBodyText, Transport } from '../../src/upstream/transport.js';
import { eventually } from '../helpers/gateway.js';

/**
 * `https:` upstreams: HTTP/2 negotiated by ALPN where the server offers it (one connection for
 * a burst of streams), HTTP/1.1 one request per connection where it does not, and a cancelled
 * request resetting only its own stream. The certificate is a throwaway self-signed one for
 * localhost, made by openssl for this run (no key is kept in the repository), so certificate
 * checks are off in this file only.
 */
function throwawayCertificate(): { key: Buffer; cert: Buffer } {
  const directory = mkdtempSync(join(tmpdir(), 'sluice-tls-'));
  try {
    const keyPath = join(directory, 'key.pem');
    const certPath = join(directory, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        keyPath,
        '-out',
        certPath,
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost',
      ],
      { stdio: 'ignore', timeout: 10_000 },
    );
    return { key: readFileSync(keyPath), cert: readFileSync(certPath) };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}
const { key, cert } = throwawayCertificate();
const previousTlsSetting = process.env.NODE_TLS_REJECT_UNAUTHORIZED;

let h2Server: Http2SecureServer;
let h1Server: Server;
const seen = { h2Connections: 0, h1Connections: 0, h1OnlyConnections: 0, aborted: 0 };

/** Answers after `delay` ms (a query parameter), naming the HTTP version it was asked in. */
function answer(
  request: Http2ServerRequest | IncomingMessage,
  response: Http2ServerResponse | ServerResponse,
): void {
  const delay = Number(new URL(request.url ?? '/', 'https://localhost').searchParams.get('delay') ?? 20);
  request.resume();
  request.on('end', () => {
    response.writeHead(200);
    (response as ServerResponse).write(`v${request.httpVersion} `);
    const timer = setTimeout(() => (response as ServerResponse).end('done'), delay);
    response.on('close', () => {
      if (!response.writableEnded) {
        clearTimeout(timer);
        seen.aborted++;
      }
    });
  });
}

async function listen(server: Server | Http2SecureServer): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

let h2Port = 0;
let h1Port = 0;
beforeAll(async () => {
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
  h2Server = createSecureServer({ key, cert, allowHTTP1: true }, answer);
  h2Server.on('secureConnection', (socket: TLSSocket) => {
    if (socket.alpnProtocol === 'h2') seen.h2Connections++;
    else seen.h1Connections++;
  });
  h1Server = createServer({ key, cert }, answer);
  h1Server.on('secureConnection', () => seen.h1OnlyConnections++);
  [h2Port, h1Port] = await Promise.all([listen(h2Server), listen(h1Server)]);
});
afterAll(async () => {
  if (previousTlsSetting === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
  else process.env.NODE_TLS_REJECT_UNAUTHORIZED = previousTlsSetting;
  await Promise.all([
    new Promise((resolve) => h2Server.close(resolve)),
    new Promise((resolve) => h1Server.close(resolve)),
  ]);
});

async function read(
  transport: Transport,
  url: string,
  signal = new AbortController().signal,
): Promise<string> {
  const response = await transport.open({ url, headers: {}, body: '{}' }, signal, 'Test');
  return readBodyText(response.body);
}

describe('https upstreams', () => {
  it('auto: a burst of 30 streams to an h2 server shares the one connection ALPN negotiated', async () => {
    const transport = new Transport({ connectTimeoutMs: 2000, http2: 'auto' });
    try {
      const before = seen.h2Connections;
      const answers = await Promise.all(
        Array.from({ length: 30 }, () => read(transport, `https://localhost:${h2Port}/x`)),
      );
      expect(new Set(answers)).toEqual(new Set(['v2.0 done']));
      expect(seen.h2Connections - before).toBe(1);
      expect(seen.h1Connections).toBe(0);
    } finally {
      await transport.close();
    }
  });

  it('auto: a server without h2 gets HTTP/1.1, one request per connection, never pipelined', async () => {
    const transport = new Transport({ connectTimeoutMs: 2000, http2: 'auto' });
    try {
      const before = seen.h1OnlyConnections;
      const started = Date.now();
      const answers = await Promise.all(
        Array.from({ length: 5 }, () => read(transport, `https://localhost:${h1Port}/x?delay=300`)),
      );
      expect(new Set(answers)).toEqual(new Set(['v1.1 done']));
      expect(seen.h1OnlyConnections - before).toBe(5);
      // Side by side, not one after another on a single connection.
      expect(Date.now() - started).toBeLessThan(1200);
    } finally {
      await transport.close();
    }
  });

  it('off: HTTP/1.1 even where the server offers h2', async () => {
    const transport = new Transport({ connectTimeoutMs: 2000, http2: 'off' });
    try {
      expect(await read(transport, `https://localhost:${h2Port}/x`)).toBe('v1.1 done');
    } finally {
      await transport.close();
    }
  });

  it('aborting one request resets its stream only', async () => {
    const transport = new Transport({ connectTimeoutMs: 2000, http2: 'auto' });
    try {
      const before = { aborted: seen.aborted, connections: seen.h2Connections };
      const controller = new AbortController();
      const cancelled = transport.open(
        { url: `https://localhost:${h2Port}/x?delay=5000`, headers: {}, body: '{}' },
        controller.signal,
        'Test',
      );
      const other = read(transport, `https://localhost:${h2Port}/x?delay=300`);
      const response = await cancelled;
      controller.abort(new Error('the client left'));
      response.body.destroy();
      await eventually(() => seen.aborted === before.aborted + 1, 2000, 'the stream reset at the server');
      expect(await other).toBe('v2.0 done');
      expect(seen.aborted).toBe(before.aborted + 1);
      expect(seen.h2Connections - before.connections).toBe(1);
    } finally {
      await transport.close();
    }
  });
});
