import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.map': 'application/json; charset=utf-8',
};

/**
 * Single files served at fixed paths: the browser client's only dependency, so the page's
 * import map can point the bare specifier `eventsource-parser` at it. Resolved through the
 * package's own `package.json` (its `exports` lists it) so hoisting does not matter.
 */
const VENDOR_FILES: Record<string, () => string> = {
  '/vendor/eventsource-parser.js': () =>
    join(
      dirname(createRequire(import.meta.url).resolve('eventsource-parser/package.json')),
      'dist',
      'index.js',
    ),
};

/**
 * Nothing but same-origin files runs; the one inline script allowed is an HTML page's own
 * import map, by the hash of its exact text (computed from the file, so it cannot go stale).
 */
function contentSecurityPolicy(scriptHashes: readonly string[]): string {
  const scriptSources = ["'self'", ...scriptHashes.map((hash) => `'sha256-${hash}'`)].join(' ');
  return [
    "default-src 'self'",
    `script-src ${scriptSources}`,
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

const IMPORT_MAP = /<script\s+type=["']?importmap["']?\s*>([\s\S]*?)<\/script\s*>/gi;

/** The sha256 (base64) of every inline `<script type="importmap">` body, as CSP hashes them. */
export function importMapHashes(html: string): string[] {
  return [...html.matchAll(IMPORT_MAP)].map((match) =>
    createHash('sha256')
      .update(match[1] ?? '', 'utf8')
      .digest('base64'),
  );
}

interface StaticFile {
  body: Buffer;
  type: string;
  csp: string;
}

/**
 * Serves the web page and the browser client: a fixed set of files, read once, cached in memory.
 * `roots` maps a path prefix to a folder, or to folders tried in order (the page's own files,
 * then its built script).
 */
export class StaticFiles {
  private readonly files = new Map<string, StaticFile>();

  constructor(private readonly roots: Record<string, string | readonly string[]>) {}

  serve(path: string, response: ServerResponse): boolean {
    const file = this.load(path === '/' ? '/index.html' : path);
    if (file === undefined) return false;
    response.writeHead(200, {
      'Content-Type': file.type,
      'Content-Length': file.body.length,
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Content-Security-Policy': file.csp,
    });
    response.end(file.body);
    return true;
  }

  private load(path: string): StaticFile | undefined {
    const cached = this.files.get(path);
    if (cached !== undefined) return cached;
    const file = this.read(path);
    if (file !== undefined) this.files.set(path, file);
    return file;
  }

  private read(path: string): StaticFile | undefined {
    const vendor = VENDOR_FILES[path];
    if (vendor !== undefined) return this.readFile(vendor());
    for (const [prefix, roots] of Object.entries(this.roots)) {
      if (!path.startsWith(prefix)) continue;
      const relative = normalize(path.slice(prefix.length)).replace(/^([/\\])+/, '');
      for (const root of typeof roots === 'string' ? [roots] : roots) {
        const full = join(root, relative);
        if (!full.startsWith(root + sep) || relative.includes('..')) return undefined;
        const file = this.readFile(full);
        if (file !== undefined) return file;
      }
    }
    return undefined;
  }

  private readFile(full: string): StaticFile | undefined {
    const type = TYPES[extname(full)];
    if (type === undefined) return undefined;
    try {
      if (!statSync(full).isFile()) return undefined;
      const body = readFileSync(full);
      const hashes = extname(full) === '.html' ? importMapHashes(body.toString('utf8')) : [];
      return { body, type, csp: contentSecurityPolicy(hashes) };
    } catch {
      // missing here (another root may have it)
      return undefined;
    }
  }
}
