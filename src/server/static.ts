import { readFileSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.map': 'application/json; charset=utf-8',
};

/** Serves the web page and the browser client: a fixed set of files, read once, cached in memory. */
export class StaticFiles {
  private readonly files = new Map<string, { body: Buffer; type: string }>();

  constructor(private readonly roots: Record<string, string>) {}

  serve(path: string, response: ServerResponse): boolean {
    const file = this.load(path === '/' ? '/index.html' : path);
    if (file === undefined) return false;
    response.writeHead(200, {
      'Content-Type': file.type,
      'Content-Length': file.body.length,
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
      'Content-Security-Policy':
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'",
    });
    response.end(file.body);
    return true;
  }

  private load(path: string): { body: Buffer; type: string } | undefined {
    const cached = this.files.get(path);
    if (cached !== undefined) return cached;
    for (const [prefix, root] of Object.entries(this.roots)) {
      if (!path.startsWith(prefix)) continue;
      const relative = normalize(path.slice(prefix.length)).replace(/^([/\\])+/, '');
      const full = join(root, relative);
      if (!full.startsWith(root + sep) || relative.includes('..')) return undefined;
      const type = TYPES[extname(full)];
      if (type === undefined) continue;
      try {
        if (!statSync(full).isFile()) continue;
        const file = { body: readFileSync(full), type };
        this.files.set(path, file);
        return file;
      } catch {
        // not in this root
      }
    }
    return undefined;
  }
}
