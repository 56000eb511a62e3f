import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { importMapHashes, StaticFiles } from './static.js';

interface Captured {
  status: number;
  headers: Record<string, string | number>;
  body: Buffer;
}

/** Just enough of a ServerResponse to see what `serve` writes. */
function capture(files: StaticFiles, path: string): Captured | undefined {
  const captured: Captured = { status: 0, headers: {}, body: Buffer.alloc(0) };
  const response = {
    writeHead(status: number, headers: Record<string, string | number>) {
      captured.status = status;
      captured.headers = headers;
      return response;
    },
    end(body: Buffer) {
      captured.body = body;
      return response;
    },
  } as unknown as ServerResponse;
  return files.serve(path, response) ? captured : undefined;
}

const IMPORT_MAP = '{"imports":{"eventsource-parser":"/vendor/eventsource-parser.js"}}';

describe('StaticFiles', () => {
  const root = mkdtempSync(join(tmpdir(), 'sluice-static-'));
  const web = join(root, 'web');
  const client = join(root, 'client');
  mkdirSync(web);
  mkdirSync(client);
  writeFileSync(
    join(web, 'index.html'),
    `<!doctype html><script type="importmap">${IMPORT_MAP}</script><script type="module" src="/app.js"></script>`,
  );
  writeFileSync(join(web, 'app.js'), 'export {};\n');
  writeFileSync(join(client, 'index.js'), 'export const client = 1;\n');
  writeFileSync(join(root, 'secret.js'), 'nope\n');
  const files = new StaticFiles({ '/client/': client, '/': web });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('allows the page’s inline import map by its sha256 and no other inline script', () => {
    const page = capture(files, '/');
    expect(page?.status).toBe(200);
    expect(page?.headers['Content-Type']).toBe('text/html; charset=utf-8');
    const hash = createHash('sha256').update(IMPORT_MAP).digest('base64');
    const csp = String(page?.headers['Content-Security-Policy']);
    expect(csp).toContain(`script-src 'self' 'sha256-${hash}';`);
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("object-src 'none'");
    // Other files carry the plain policy.
    expect(String(capture(files, '/app.js')?.headers['Content-Security-Policy'])).toContain(
      "script-src 'self';",
    );
  });

  it('hashes each import map exactly as written and ignores other scripts', () => {
    const html =
      '<script>alert(1)</script><script type="importmap">\n  {"imports":{}}\n</script><script type=importmap>{}</script>';
    expect(importMapHashes(html)).toEqual([
      createHash('sha256').update('\n  {"imports":{}}\n').digest('base64'),
      createHash('sha256').update('{}').digest('base64'),
    ]);
  });

  it('serves eventsource-parser’s ESM build at /vendor/eventsource-parser.js', () => {
    const vendor = capture(files, '/vendor/eventsource-parser.js');
    expect(vendor?.headers['Content-Type']).toBe('text/javascript; charset=utf-8');
    const packageJson = createRequire(import.meta.url).resolve('eventsource-parser/package.json');
    expect(vendor?.body.equals(readFileSync(join(dirname(packageJson), 'dist', 'index.js')))).toBe(true);
    expect(vendor?.body.toString()).toContain('export');
    expect(capture(files, '/vendor/other.js')).toBeUndefined();
  });

  it('tries a prefix’s folders in order', () => {
    const built = join(root, 'built');
    mkdirSync(built);
    writeFileSync(join(built, 'app.js'), 'export const built = 1;\n');
    writeFileSync(join(built, 'extra.js'), 'export const extra = 1;\n');
    const layered = new StaticFiles({ '/': [web, built] });
    // The first folder wins where both have the file; the second fills in what the first lacks.
    expect(capture(layered, '/app.js')?.body.toString()).toBe('export {};\n');
    expect(capture(layered, '/extra.js')?.body.toString()).toContain('extra = 1');
    expect(capture(layered, '/')?.headers['Content-Type']).toBe('text/html; charset=utf-8');
    expect(capture(layered, '/missing.js')).toBeUndefined();
    expect(capture(layered, '/../secret.js')).toBeUndefined();
    expect(capture(layered, '/../built/extra.js')).toBeUndefined();
  });

  it('serves the client under /client/ and nothing outside its roots', () => {
    expect(capture(files, '/client/index.js')?.body.toString()).toContain('client = 1');
    expect(capture(files, '/../secret.js')).toBeUndefined();
    expect(capture(files, '/client/../../secret.js')).toBeUndefined();
    expect(capture(files, '/missing.js')).toBeUndefined();
    expect(capture(files, '/client/')).toBeUndefined();
  });
});
