import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { chatBody, postStream } from '../helpers/sse.js';
import { parseResponse, postHead, rawConnect } from './raw-http.js';

let plain: TestGateway;
let listed: TestGateway;
let open: TestGateway;
beforeAll(async () => {
  plain = await startTestGateway();
  listed = await startTestGateway(
    {},
    {
      SLUICE_CORS_ORIGIN: 'http://app.example, https://other.example',
      SLUICE_ALLOWED_HOSTS: 'gateway.example,box.lan:8443',
    },
  );
  open = await startTestGateway({}, { SLUICE_CORS_ORIGIN: '*' });
});
afterAll(async () => {
  await Promise.all([plain.close(), listed.close(), open.close()]);
});
beforeEach(() => {
  for (const harness of [plain, listed, open]) harness.emulator.reset();
});

const preflight = (url: string, origin: string): Promise<Response> =>
  fetch(`${url}/api/v1/chat/stream`, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type',
    },
  });

describe('CORS', () => {
  it('sends no CORS header at all unless SLUICE_CORS_ORIGIN is set', async () => {
    const answer = await preflight(plain.url, 'http://evil.example');
    expect(answer.headers.get('access-control-allow-origin')).toBeNull();
    expect(answer.headers.get('access-control-allow-methods')).toBeNull();
    const stream = await postStream(plain.url, chatBody(), { headers: { origin: 'http://evil.example' } });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('access-control-allow-origin')).toBeNull();
    expect(stream.headers.get('access-control-expose-headers')).toBeNull();
    const health = await fetch(`${plain.url}/api/v1/chat/stream/health`, {
      headers: { origin: 'http://evil.example' },
    });
    expect(health.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('echoes a listed Origin with Vary: Origin, and no other', async () => {
    const allowed = await preflight(listed.url, 'https://other.example');
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://other.example');
    expect(allowed.headers.get('vary')).toContain('Origin');
    expect(allowed.headers.get('access-control-allow-headers')).toContain('Last-Event-ID');
    const stream = await postStream(listed.url, chatBody(), { headers: { origin: 'http://app.example' } });
    expect(stream.headers.get('access-control-allow-origin')).toBe('http://app.example');
    expect(stream.headers.get('access-control-expose-headers')).toContain('X-Generation-Id');
    expect(stream.headers.get('vary')).toContain('Origin');
    const other = await preflight(listed.url, 'http://evil.example');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    expect(other.headers.get('vary')).toContain('Origin');
  });

  it('answers * when configured so', async () => {
    const answer = await preflight(open.url, 'http://anyone.example');
    expect(answer.headers.get('access-control-allow-origin')).toBe('*');
    const stream = await postStream(open.url, chatBody(), { headers: { origin: 'http://anyone.example' } });
    expect(stream.headers.get('access-control-allow-origin')).toBe('*');
  });
});

/** Sends a request with this Host header on a raw socket and returns the parsed answer. */
async function withHost(url: string, host: string, body = JSON.stringify(chatBody())) {
  const connection = await rawConnect(url);
  const head = postHead('/api/v1/chat/stream', Buffer.byteLength(body), 'Connection: close\r\n').replace(
    'Host: 127.0.0.1',
    `Host: ${host}`,
  );
  connection.socket.write(head + body);
  const { text } = await connection.closed;
  return parseResponse(text);
}

describe('Host header (DNS rebinding) while bound to loopback', () => {
  it('refuses a foreign Host with a 4xx JSON error before any work', async () => {
    for (const host of ['evil.example', 'evil.example:8000', '127.0.0.1.evil.example', '10.0.0.1']) {
      const answer = await withHost(plain.url, host);
      expect([host, answer.status]).toEqual([host, 421]);
      expect(answer.headers['content-type']).toContain('application/json');
      expect(JSON.parse(answer.body).error.code).toBe('host_not_allowed');
    }
    // Refused before the body was read: no generation, no upstream request.
    expect(plain.emulator.stats('openai').requests).toBe(0);
    const page = await rawConnect(plain.url);
    page.socket.write(
      'GET /api/v1/chat/stream/health HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n',
    );
    expect(parseResponse((await page.closed).text).status).toBe(421);
  });

  it('accepts the loopback names with any port, and the listed hosts', async () => {
    const { port } = new URL(plain.url);
    for (const host of [
      'localhost',
      `localhost:${port}`,
      `127.0.0.1:${port}`,
      '[::1]',
      `[::1]:${port}`,
      'LOCALHOST',
    ]) {
      expect([host, (await withHost(plain.url, host)).status]).toEqual([host, 200]);
    }
    for (const host of ['gateway.example', 'gateway.example:80', 'box.lan:8443']) {
      expect([host, (await withHost(listed.url, host)).status]).toEqual([host, 200]);
    }
    expect((await withHost(listed.url, 'box.lan:9999')).status).toBe(421);
    expect((await withHost(plain.url, 'gateway.example')).status).toBe(421);
  });

  it('accepts any Host once the gateway listens beyond loopback', async () => {
    const wide = await startTestGateway({ host: '0.0.0.0' });
    try {
      const url = wide.url.replace('0.0.0.0', '127.0.0.1');
      expect((await withHost(url, 'gateway.example')).status).toBe(200);
    } finally {
      await wide.close();
    }
  });
});
