import { connect, createServer, type Http2Server, type ServerHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialectFor } from '../../src/emulators/dialects.js';
import { EmulatorServer } from '../../src/emulators/server.js';
import { readBodyText, Transport } from '../../src/upstream/transport.js';

/**
 * How data moves over HTTP/2: the emulator sends a paced answer a DATA frame per event (one chunk
 * per read, as over HTTP/1.1) and an unpaced one in a few frames; the gateway's connections open
 * a connection-level window of 4 MB, so many fast streams on one connection are not held to a
 * round trip per 512 KB.
 */

const BODY = JSON.stringify({
  model: 'gpt-4o-mini',
  stream: true,
  messages: [{ role: 'user', content: 'hi' }],
});

describe('the emulator over HTTP/2', () => {
  const emulator = new EmulatorServer({ dialects: [dialectFor('openai')] });
  beforeAll(async () => {
    await emulator.listen();
  });
  afterAll(() => emulator.close());

  /** The DATA payloads one streamed answer arrives in, read with node:http2's own client. */
  async function framesOf(chunkDelayMs: number): Promise<{ frames: number; text: string }> {
    emulator.enqueue('openai', { ttftMs: 0, chunkDelayMs, chunks: 30 });
    const base = new URL(emulator.baseUrl('openai'));
    const session = connect(base.origin);
    try {
      const stream = session.request({
        ':method': 'POST',
        ':path': `${base.pathname}/chat/completions`,
        'content-type': 'application/json',
        authorization: 'Bearer test-key',
      });
      stream.end(BODY);
      let frames = 0;
      let text = '';
      stream.setEncoding('utf8');
      stream.on('data', (piece: string) => {
        frames++;
        text += piece;
      });
      await new Promise<void>((resolve, reject) => {
        stream.on('end', resolve);
        stream.on('error', reject);
      });
      return { frames, text };
    } finally {
      session.close();
    }
  }

  it('sends an unpaced answer in a few DATA frames, and a paced one a frame per event', async () => {
    const unpaced = await framesOf(0);
    const paced = await framesOf(2);
    const events = (text: string): number =>
      text.split('\n\n').filter((event) => event.startsWith('data:')).length;
    expect(unpaced.text).toContain('data: [DONE]');
    expect(events(unpaced.text)).toBeGreaterThan(30);
    expect(unpaced.frames).toBeLessThanOrEqual(3);
    // Paced: every chunk after the first is its own frame (the first goes with the role's event).
    expect(paced.frames).toBeGreaterThanOrEqual(30);
    expect(events(paced.text)).toBe(events(unpaced.text));
  });
});

describe("the gateway's HTTP/2 connections", () => {
  let server: Http2Server;
  let origin = '';
  const sessions: ServerHttp2Session[] = [];
  beforeAll(async () => {
    server = createServer();
    server.on('session', (session) => sessions.push(session));
    server.on('stream', (stream) => {
      stream.resume();
      stream.on('end', () => {
        stream.respond({ ':status': 200, 'content-type': 'text/event-stream' });
        stream.end('data: [DONE]\n\n');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('open a 4 MB connection window for the upstream to send into', async () => {
    const transport = new Transport({ connectTimeoutMs: 2000, http2: 'h2c' });
    try {
      const response = await transport.open(
        { url: `${origin}/v1/chat/completions`, headers: { 'content-type': 'application/json' }, body: BODY },
        new AbortController().signal,
        'Test',
      );
      expect(await readBodyText(response.body)).toBe('data: [DONE]\n\n');
      expect(sessions).toHaveLength(1);
      // What the server may still send on the connection: the client's window, less what it sent.
      const remote = sessions[0]?.state.remoteWindowSize ?? 0;
      expect(remote).toBeGreaterThan(4 * 1024 * 1024 - 1024);
      expect(remote).toBeLessThanOrEqual(4 * 1024 * 1024);
    } finally {
      await transport.close();
    }
  });
});
