import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { openLive, streamRequest } from '../helpers/live.js';
import { chatBody, postStream } from '../helpers/sse.js';
import { parseResponse, postHead, type RawConnection, rawConnect } from './raw-http.js';

const STREAM = '/api/v1/chat/stream';

/** Opens a request whose body stops one byte short, and leaves it hanging. */
async function hangingBody(url: string, length: number): Promise<RawConnection> {
  const connection = await rawConnect(url);
  connection.socket.write(postHead(STREAM, length) + 'a'.repeat(length - 1));
  return connection;
}

describe('request bodies being read', () => {
  let harness: TestGateway;
  beforeAll(async () => {
    harness = await startTestGateway(
      { maxBodyBytes: 1000 },
      { SLUICE_MAX_PENDING_BODY_BYTES: '3000', SLUICE_BODY_TIMEOUT_MS: '20000' },
    );
  });
  afterAll(() => harness.close());

  it('are bounded in total: past the bound a new request gets 503 at once, unread', async () => {
    const hanging = await Promise.all([1, 2, 3].map(() => hangingBody(harness.url, 1000)));
    try {
      // Let the gateway start reading all three.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const started = Date.now();
      const refused = await postStream(harness.url, chatBody());
      expect(refused.status).toBe(503);
      expect(refused.json.error.code).toBe('unavailable');
      expect(Date.now() - started).toBeLessThan(2000);
      expect(harness.emulator.stats('openai').requests).toBe(0);
      // A body that completes gives its share back.
      const first = hanging[0] as RawConnection;
      first.socket.write('a');
      expect(parseResponse(await first.waitFor(/\r\n\r\n\{.*\}$/s)).status).toBe(400);
      const accepted = await postStream(harness.url, chatBody());
      expect(accepted.status).toBe(200);
    } finally {
      for (const connection of hanging) connection.socket.destroy();
    }
  });

  it('give their share back when the client goes away mid-body', async () => {
    const hanging = await Promise.all([1, 2, 3].map(() => hangingBody(harness.url, 1000)));
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const connection of hanging) connection.socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const accepted = await postStream(harness.url, chatBody());
    expect(accepted.status).toBe(200);
  });
});

describe('a body that takes too long', () => {
  let harness: TestGateway;
  beforeAll(async () => {
    harness = await startTestGateway({}, { SLUICE_BODY_TIMEOUT_MS: '300' });
  });
  afterAll(() => harness.close());

  it('gets a 408 JSON answer at its deadline', async () => {
    const connection = await rawConnect(harness.url);
    connection.socket.write(`${postHead(STREAM, 100)}{"provider":`);
    const started = Date.now();
    const answer = parseResponse(await connection.waitFor(/\r\n\r\n\{.*\}$/s, 5000));
    expect(answer.status).toBe(408);
    expect(JSON.parse(answer.body).error.code).toBe('request_timeout');
    expect(Date.now() - started).toBeLessThan(3000);
    connection.socket.destroy();
  });
});

describe('a body that completes after shutdown began', () => {
  let harness: TestGateway;
  beforeAll(async () => {
    harness = await startTestGateway();
  });
  afterAll(() => harness.close());

  it('is refused with 503 unavailable and starts no generation', async () => {
    // A running stream keeps shutdown waiting while the late body arrives.
    harness.emulator.enqueue('openai', { chunkDelayMs: 40, chunks: 25 });
    const running = await openLive(`${harness.url}${STREAM}`, streamRequest(chatBody()));
    await running.waitForFrames(2);
    const body = JSON.stringify(chatBody());
    const late = await rawConnect(harness.url);
    late.socket.write(postHead(STREAM, Buffer.byteLength(body)) + body.slice(0, 10));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const closing = harness.gateway.close(3000);
    await eventually(() => !harness.gateway.server.listening, 1000, 'shutdown to begin');
    late.socket.write(body.slice(10));
    const answer = parseResponse(await late.waitFor(/\r\n\r\n\{.*\}$/s));
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body).error.code).toBe('unavailable');
    expect(harness.emulator.stats('openai').requests).toBe(1);
    await running.ended;
    await closing;
  });
});

describe('an oversized body', () => {
  let harness: TestGateway;
  beforeAll(async () => {
    harness = await startTestGateway();
  });
  afterAll(() => harness.close());

  const big = Buffer.alloc(2 * 1024 * 1024, 'a');

  /**
   * Sends `head` and then `body` in paced pieces without reading, as clients that upload
   * before they read the answer do, then reads what came back.
   */
  async function uploadThenRead(head: string, pieces: Buffer[]): Promise<{ text: string; error?: string }> {
    const connection = await rawConnect(harness.url, { allowHalfOpen: true });
    connection.socket.pause();
    const write = (bytes: Buffer | string): Promise<void> =>
      new Promise((done) => connection.socket.write(bytes, () => done()));
    await write(head);
    for (const piece of pieces) {
      if (connection.socket.destroyed) break;
      await write(piece);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    connection.socket.resume();
    if (!connection.socket.destroyed) connection.socket.end();
    return connection.closed;
  }

  const slices = (buffer: Buffer, size: number): Buffer[] =>
    Array.from({ length: Math.ceil(buffer.length / size) }, (_, index) =>
      buffer.subarray(index * size, (index + 1) * size),
    );

  it('always gets its 413 JSON read by the client (declared length), never a reset', async () => {
    for (let run = 0; run < 5; run++) {
      const { text, error } = await uploadThenRead(postHead(STREAM, big.length), slices(big, 64 * 1024));
      expect([run, error, text.slice(0, 12)]).toEqual([run, undefined, 'HTTP/1.1 413']);
      expect(JSON.parse(parseResponse(text).body).error.code).toBe('payload_too_large');
    }
  });

  it('always gets its 413 JSON read by the client (chunked, found while reading)', async () => {
    const head =
      'POST /api/v1/chat/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
      'Transfer-Encoding: chunked\r\n\r\n';
    const chunks = slices(big, 64 * 1024).map((piece) =>
      Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]),
    );
    for (let run = 0; run < 5; run++) {
      const { text, error } = await uploadThenRead(head, [...chunks, Buffer.from('0\r\n\r\n')]);
      expect([run, error, text.slice(0, 12)]).toEqual([run, undefined, 'HTTP/1.1 413']);
      expect(parseResponse(text).body).toContain('payload_too_large');
    }
  });

  it('gets its 413 through fetch too', async () => {
    for (let run = 0; run < 3; run++) {
      const answer = await fetch(`${harness.url}${STREAM}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: big,
      });
      expect(answer.status).toBe(413);
      expect(((await answer.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');
    }
  });
});
