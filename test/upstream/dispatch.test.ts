import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatchRequest, type UpstreamBody } from '../../src/upstream/dispatch.js';

/** What the upstream saw of each request: whether its response was cut before it finished. */
const seen = new Map<string, { closedEarly: Promise<boolean> }>();
let server: Server;
let origin: string;
const agent = new Agent({ connections: null });

function handle(request: IncomingMessage, response: ServerResponse): void {
  const path = request.url ?? '/';
  const finished = new Promise<boolean>((resolve) => {
    response.on('close', () => resolve(!response.writableFinished));
  });
  seen.set(path, { closedEarly: finished });
  request.resume();
  request.on('end', () => {
    if (path === '/one-packet') {
      // Headers and the whole body leave in one write.
      response.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': 'yes' });
      response.end('first,second,third');
      return;
    }
    if (path === '/slow') {
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.write('a');
      const timer = setInterval(() => response.write('b'), 10);
      response.on('close', () => clearInterval(timer));
      return;
    }
    if (path === '/cut') {
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.write('partial');
      setTimeout(() => response.socket?.destroy(), 20);
      return;
    }
    if (path === '/never') return;
    response.writeHead(404).end('no');
  });
}

beforeAll(async () => {
  server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await agent.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const post = (path: string, signal = new AbortController().signal) =>
  dispatchRequest(agent, { url: `${origin}${path}`, headers: {}, body: '{}' }, signal);

/** Everything a body delivers, in order, until `end` or `error`. */
function drain(body: UpstreamBody): Promise<{ text: string; error?: Error }> {
  return new Promise((resolve) => {
    let text = '';
    body.on('data', (chunk) => {
      text += chunk.toString('utf8');
    });
    body.on('end', () => resolve({ text }));
    body.on('error', (error) => resolve({ text, error }));
  });
}

describe('dispatchRequest', () => {
  it('delivers reads that came with the headers once a listener is attached, then the end', async () => {
    const response = await post('/one-packet');
    expect(response.status).toBe(200);
    expect(response.headers['x-upstream']).toBe('yes');
    // Attached a while after the headers arrived: nothing is lost.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await drain(response.body)).toEqual({ text: 'first,second,third' });
  });

  it('aborting the signal after the headers cuts the upstream response', async () => {
    const controller = new AbortController();
    const response = await post('/slow', controller.signal);
    const read = drain(response.body);
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort(new Error('reader gone'));
    const outcome = await read;
    expect(outcome.text.startsWith('ab')).toBe(true);
    expect(outcome.error?.message).toBe('reader gone');
    expect(await seen.get('/slow')?.closedEarly).toBe(true);
  });

  it('aborting before the headers rejects with the reason and ends the upstream request', async () => {
    const controller = new AbortController();
    const opened = post('/never', controller.signal);
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort(new Error('cancelled'));
    await expect(opened).rejects.toThrow('cancelled');
    expect(await seen.get('/never')?.closedEarly).toBe(true);
  });

  it('a reader that destroys the body cuts the upstream response and hears nothing more', async () => {
    const response = await post('/slow');
    let after = 0;
    let destroyed = false;
    response.body.on('data', () => {
      if (destroyed) after++;
    });
    response.body.on('error', () => {
      after++;
    });
    await new Promise((resolve) => setTimeout(resolve, 30));
    response.body.destroy();
    destroyed = true;
    expect(await seen.get('/slow')?.closedEarly).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(after).toBe(0);
  });

  it('an upstream that drops the connection mid-body gives its reads, then an error', async () => {
    const response = await post('/cut');
    const outcome = await drain(response.body);
    expect(outcome.text).toBe('partial');
    expect(outcome.error).toBeInstanceOf(Error);
  });
});
