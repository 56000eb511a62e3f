import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  createServer as createHttp2Server,
  type Http2ServerResponse,
  constants as http2Constants,
} from 'node:http2';
import {
  type AddressInfo,
  connect,
  createServer as createNetServer,
  type Server as NetServer,
  type Socket,
} from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dialectFor } from '../../src/emulators/dialects.js';
import { EmulatorServer } from '../../src/emulators/server.js';
import { advertisesH2c, readBodyText, Transport } from '../../src/upstream/transport.js';

/**
 * `auto` on `http:` upstreams: HTTP/1.1 until an upstream advertises h2c on a response
 * (`Upgrade: h2c`, informational on a 200), then HTTP/2 with prior knowledge; an upstream that
 * never advertises never sees an HTTP/2 preface; and one that advertises without speaking it
 * costs nothing but a quiet fallback: the request goes again over HTTP/1.1, and so do all later.
 */

const H2_PREFACE_START = 'PRI * HTTP/2.0';

function request(origin: string): { url: string; headers: Record<string, string>; body: string } {
  return {
    url: `${origin}/chat/completions`,
    headers: { 'content-type': 'application/json', authorization: 'Bearer test-key' },
    body: JSON.stringify({
      model: 'gpt-4o-mini',
      stream: true,
      messages: [{ role: 'user', content: 'hello' }],
    }),
  };
}

async function readAll(transport: Transport, origin: string): Promise<{ status: number; text: string }> {
  const response = await transport.open(request(origin), new AbortController().signal, 'Test');
  return { status: response.status, text: await readBodyText(response.body) };
}

describe('advertisesH2c', () => {
  it('finds h2c among the Upgrade protocols, in any case, in one header or several', () => {
    expect(advertisesH2c({ upgrade: 'h2c' })).toBe(true);
    expect(advertisesH2c({ upgrade: 'h2, H2C' })).toBe(true);
    expect(advertisesH2c({ upgrade: ['websocket', 'h2c'] })).toBe(true);
    expect(advertisesH2c({ upgrade: 'h2' })).toBe(false);
    expect(advertisesH2c({ upgrade: 'h2cx, websocket' })).toBe(false);
    expect(advertisesH2c({})).toBe(false);
  });
});

describe('the emulator, which advertises h2c and speaks it', () => {
  const emulators: EmulatorServer[] = [];
  afterEach(async () => {
    await Promise.all(emulators.splice(0).map((emulator) => emulator.close()));
  });

  async function startEmulator(
    advertiseH2c?: boolean,
  ): Promise<{ emulator: EmulatorServer; origin: string }> {
    const emulator = new EmulatorServer({
      dialects: [dialectFor('openai')],
      defaults: { ttftMs: 0, chunkDelayMs: 0, chunks: 4 },
      ...(advertiseH2c === undefined ? {} : { advertiseH2c }),
    });
    emulators.push(emulator);
    await emulator.listen();
    return { emulator, origin: emulator.baseUrl('openai') };
  }

  it('auto: the first stream goes over HTTP/1.1, every later one over HTTP/2 on one connection', async () => {
    const { emulator, origin } = await startEmulator();
    const transport = new Transport({ connectTimeoutMs: 2000, http2: 'auto' });
    try {
      const first = await readAll(transport, origin);
      expect(first.status).toBe(200);
      expect(first.text).toContain('data: [DONE]');
      expect(emulator.stats('openai')).toMatchObject({ requests: 1, http2Requests: 0 });
      const later = await Promise.all(Array.from({ length: 5 }, () => readAll(transport, origin)));
      for (const answer of later) expect(answer.text).toContain('data: [DONE]');
      expect(emulator.stats('openai')).toMatchObject({ requests: 6, http2Requests: 5 });
      expect(emulator.connections()).toMatchObject({ http1: 1, http2: 1 });
    } finally {
      await transport.close();
    }
  });

  it('auto: an emulator told not to advertise is only ever spoken to over HTTP/1.1', async () => {
    const { emulator, origin } = await startEmulator(false);
    const transport = new Transport({ connectTimeoutMs: 2000, http2: 'auto' });
    try {
      for (let round = 0; round < 3; round++) expect((await readAll(transport, origin)).status).toBe(200);
      expect(emulator.stats('openai')).toMatchObject({ requests: 3, http2Requests: 0 });
      expect(emulator.connections().http2).toBe(0);
    } finally {
      await transport.close();
    }
  });

  it('off: the advertisement is ignored', async () => {
    const { emulator, origin } = await startEmulator();
    const transport = new Transport({ connectTimeoutMs: 2000, http2: 'off' });
    try {
      for (let round = 0; round < 3; round++) expect((await readAll(transport, origin)).status).toBe(200);
      expect(emulator.stats('openai')).toMatchObject({ requests: 3, http2Requests: 0 });
    } finally {
      await transport.close();
    }
  });

  it('keeps its word on closing: a request with Connection: close gets close in the header it answers with', async () => {
    const { origin } = await startEmulator();
    const head = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(new URL(origin).port), '127.0.0.1', () => {
        socket.write('GET /openai/v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      });
      let text = '';
      socket.on('data', (piece: Buffer) => {
        text += piece.toString('latin1');
      });
      // The emulator closing the connection is what ends this read.
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(head).toMatch(/\r\nupgrade: h2c\r\n/i);
    expect(head).toMatch(/\r\nconnection: close, Upgrade\r\n/i);
  });
});

describe('an HTTP/1.1 server that advertises h2c without speaking it', () => {
  let server: Server;
  let origin = '';
  const seen = { requests: 0, prefaces: 0, connections: 0 };

  beforeAll(async () => {
    server = createServer((incoming: IncomingMessage, response: ServerResponse) => {
      seen.requests++;
      incoming.resume();
      incoming.on('end', () => {
        response.writeHead(200, { 'content-type': 'text/event-stream', upgrade: 'h2c' });
        response.end('data: {"choices":[]}\n\ndata: [DONE]\n\n');
      });
    });
    server.on('connection', () => seen.connections++);
    // node:http answers an HTTP/2 preface with 400 and closes: count what reached it.
    server.on('clientError', (error: Error & { rawPacket?: Buffer }, socket: Socket) => {
      if (error.rawPacket?.toString('latin1').startsWith(H2_PREFACE_START)) seen.prefaces++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('auto: one failed try over HTTP/2, that same request answered over HTTP/1.1, then HTTP/1.1 for good', async () => {
    const transport = new Transport({ connectTimeoutMs: 2000, http2: 'auto' });
    try {
      const answers = [];
      for (let round = 0; round < 4; round++) answers.push(await readAll(transport, origin));
      for (const answer of answers) {
        expect(answer.status).toBe(200);
        expect(answer.text).toContain('data: [DONE]');
      }
      // Every request reached the handler once; the one HTTP/2 try never did.
      expect(seen.requests).toBe(4);
      expect(seen.prefaces).toBe(1);
    } finally {
      await transport.close();
    }
  });
});

describe('a server that advertises h2c and sits silent on the HTTP/2 preface', () => {
  let server: NetServer;
  let origin = '';
  const seen = { requests: 0, prefaces: 0 };
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    // HTTP/1.1 by hand: a request's head and Content-Length body, answered with one SSE event and
    // the advertisement; a connection that opens with the preface is read and never answered.
    server = createNetServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      let buffered = Buffer.alloc(0);
      socket.on('error', () => socket.destroy());
      socket.on('data', (piece: Buffer) => {
        buffered = Buffer.concat([buffered, piece]);
        if (buffered.subarray(0, H2_PREFACE_START.length).toString('latin1') === H2_PREFACE_START) {
          if (buffered.length === piece.length) seen.prefaces++;
          return;
        }
        for (;;) {
          const headEnd = buffered.indexOf('\r\n\r\n');
          if (headEnd === -1) return;
          const head = buffered.subarray(0, headEnd).toString('latin1');
          const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
          if (buffered.length < headEnd + 4 + length) return;
          buffered = buffered.subarray(headEnd + 4 + length);
          seen.requests++;
          const body = 'data: [DONE]\n\n';
          socket.write(
            'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nupgrade: h2c\r\nconnection: Upgrade\r\n' +
              `content-length: ${body.length}\r\n\r\n${body}`,
          );
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  afterAll(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => server.close(resolve));
  });

  it('auto: the stalled request ends by its own timeout, and from the connect bound on requests go over HTTP/1.1', async () => {
    const transport = new Transport({ connectTimeoutMs: 300, http2: 'auto' });
    const bounded = <T>(promise: Promise<T>): Promise<T> =>
      Promise.race([
        promise,
        new Promise<T>((_, reject) => setTimeout(() => reject(new Error('no answer within 3 s')), 3000)),
      ]);
    try {
      expect((await bounded(readAll(transport, origin))).text).toBe('data: [DONE]\n\n');
      // Over HTTP/2 now: the server reads the preface and says nothing. The caller's own bound
      // (the generation's idle timeout, here 600 ms) ends the request.
      const stalled = new AbortController();
      const timer = setTimeout(() => stalled.abort(new Error('idle')), 600);
      await expect(bounded(transport.open(request(origin), stalled.signal, 'Test'))).rejects.toBeDefined();
      clearTimeout(timer);
      expect(seen.prefaces).toBe(1);
      const after = await bounded(readAll(transport, origin));
      expect(after.text).toBe('data: [DONE]\n\n');
      expect(seen.requests).toBe(2);
      expect(seen.prefaces).toBe(1);
    } finally {
      await transport.close();
    }
  });
});

describe('an advertiser that speaks HTTP/2: failures that prove it, and failures that prove nothing', () => {
  let listener: NetServer;
  let port = 0;
  const seen = { http1: 0, http2: 0, refusedStreams: 0 };
  /** Streams to refuse (RST_STREAM before any headers), counted down. */
  let refuseNext = 0;
  const sockets = new Set<Socket>();

  const answer = (response: ServerResponse | Http2ServerResponse): void => {
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    response.end('data: [DONE]\n\n');
  };

  beforeAll(async () => {
    const http1 = createServer((incoming, response) => {
      seen.http1++;
      incoming.resume();
      response.setHeader('upgrade', 'h2c');
      incoming.on('end', () => answer(response));
    });
    const http2 = createHttp2Server((incoming, response) => {
      if (refuseNext > 0) {
        refuseNext--;
        seen.refusedStreams++;
        incoming.stream.close(http2Constants.NGHTTP2_REFUSED_STREAM);
        return;
      }
      seen.http2++;
      incoming.resume();
      incoming.on('end', () => answer(response));
    });
    // One port, both protocols, chosen by the first bytes, as the emulator does.
    listener = createNetServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.once('data', (first: Buffer) => {
        socket.pause();
        socket.unshift(first);
        if (first.toString('latin1').startsWith(H2_PREFACE_START)) http2.emit('connection', socket);
        else {
          http1.emit('connection', socket);
          socket.resume();
        }
      });
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    port = (listener.address() as AddressInfo).port;
  });
  afterAll(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => listener.close(resolve));
  });

  it('a stream refused before its headers fails that request alone: the origin stays on HTTP/2', async () => {
    const transport = new Transport({ connectTimeoutMs: 2000, http2: 'auto' });
    const origin = `http://127.0.0.1:${port}/v1`;
    try {
      expect((await readAll(transport, origin)).status).toBe(200);
      refuseNext = 1;
      await expect(readAll(transport, origin)).rejects.toMatchObject({ code: 'upstream_disconnected' });
      expect(seen.refusedStreams).toBe(1);
      expect((await readAll(transport, origin)).status).toBe(200);
      // One request over HTTP/1.1 (the one that learned), none replayed there; then HTTP/2.
      expect(seen).toMatchObject({ http1: 1, http2: 1 });
    } finally {
      await transport.close();
    }
  });

  it('a refused connection says nothing of the protocol: once the server is back, HTTP/2 it is', async () => {
    seen.http1 = 0;
    seen.http2 = 0;
    const transport = new Transport({ connectTimeoutMs: 2000, http2: 'auto' });
    const origin = `http://127.0.0.1:${port}/v1`;
    try {
      expect((await readAll(transport, origin)).status).toBe(200);
      // The HTTP/1.1 connection stays open; new ones are refused while the listener is down.
      // Not waiting for 'close': that comes only once the open connections end.
      listener.close();
      await expect(readAll(transport, origin)).rejects.toMatchObject({ code: 'upstream_error' });
      await new Promise<void>((resolve) => listener.listen(port, '127.0.0.1', resolve));
      expect((await readAll(transport, origin)).status).toBe(200);
      expect(seen).toMatchObject({ http1: 1, http2: 1 });
    } finally {
      await transport.close();
    }
  });
});
