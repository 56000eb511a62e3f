import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../../src/server/gateway.js';
import { StaticFiles } from '../../src/server/static.js';
import { parseResponse, rawConnect } from './raw-http.js';

const root = mkdtempSync(join(tmpdir(), 'sluice-static-paths-'));
const web = join(root, 'web');
const client = join(root, 'client');
mkdirSync(web);
mkdirSync(join(client, 'nested'), { recursive: true });
writeFileSync(join(web, 'index.html'), '<!doctype html><title>page</title>');
writeFileSync(join(web, 'app.js'), 'export {};\n');
writeFileSync(join(client, 'index.js'), 'export const client = 1;\n');
writeFileSync(join(client, 'nested', 'x.js'), 'export const x = 1;\n');

/** Paths a client can write for files that exist, none of them the file's one canonical path. */
const ODD_PATHS = [
  '/a/..//app.js',
  '//app.js',
  '/./app.js',
  '/client///index.js',
  '/client/./index.js',
  '/client/nested/../index.js',
  '/client//nested/x.js',
  '/web/../app.js',
  '/app.js/.',
];

let gateway: Gateway;
beforeAll(async () => {
  gateway = await startGateway({ env: {}, settings: { port: 0, host: '127.0.0.1' }, webRoot: web });
});
afterAll(async () => {
  await gateway.close(100);
  rmSync(root, { recursive: true, force: true });
});

/** A raw GET, so the path reaches the gateway exactly as written. */
async function rawGet(path: string): Promise<number> {
  const connection = await rawConnect(gateway.url);
  connection.socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  const { text } = await connection.closed;
  return parseResponse(text).status;
}

describe('static files', () => {
  it('keep the cache to the files that exist, whatever paths are asked for', () => {
    const files = new StaticFiles({ '/client/': client, '/': web });
    const response = { writeHead: () => response, end: () => response } as never;
    expect(files.serve('/app.js', response)).toBe(true);
    expect(files.serve('/client/index.js', response)).toBe(true);
    const before = files.cachedFiles;
    for (let index = 0; index < 200; index++) {
      for (const odd of ODD_PATHS) files.serve(`${odd.replace('app', `a${index}/../app`)}`, response);
      files.serve(`/client${'/'.repeat(index + 2)}index.js`, response);
    }
    expect(files.cachedFiles).toBeLessThanOrEqual(Math.max(before, 4));
  });

  it('answer 404 to every non-canonical path over HTTP, and 200 to the canonical ones', async () => {
    expect(await rawGet('/app.js')).toBe(200);
    expect(await rawGet('/')).toBe(200);
    for (const odd of ODD_PATHS) expect([odd, await rawGet(odd)]).toEqual([odd, 404]);
  });
});
