import { createHash } from 'node:crypto';
import { type Dirent, readdirSync, readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';

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
 * The one spelling of each file's path: `/`-separated names, none empty, none starting with a
 * dot (so no `.`, `..` or hidden files). Any other spelling of a path is not served.
 */
const CANONICAL_PATH = /^(?:\/[A-Za-z0-9_~@+-][A-Za-z0-9._~@+-]*)+$/;

/** Bounds on the files listed at start, so a root pointed at a large tree cannot stall it. */
const MAX_FILES = 2000;
const MAX_DEPTH = 8;

/**
 * Serves the web page and the browser client: a fixed set of files, listed once when the
 * gateway starts, each read on first use and then held in memory. A path is looked up as
 * written, never normalized: any spelling other than a listed file's own is a 404, so the
 * cache holds at most one entry per listed file. A prefix may map to several folders, tried in
 * order (the page's own files, then its built script): the first that has a path serves it.
 */
export class StaticFiles {
  /** URL path -> file on disk, for every file that can be served. */
  private readonly paths = new Map<string, string>();
  private readonly files = new Map<string, StaticFile>();

  constructor(roots: Record<string, string | readonly string[]>) {
    for (const [path, locate] of Object.entries(VENDOR_FILES)) {
      try {
        this.paths.set(path, locate());
      } catch {
        // the package is not installed: its path is a 404 like any other
      }
    }
    for (const [prefix, folders] of Object.entries(roots)) {
      for (const root of typeof folders === 'string' ? [folders] : folders) {
        this.list(prefix.replace(/\/+$/, ''), root, 0);
      }
    }
  }

  /** How many files are held in memory. */
  get cachedFiles(): number {
    return this.files.size;
  }

  /** Answers `path` when it names a listed file; `false` (nothing written) otherwise. */
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

  /** Adds the servable files under `directory` as `prefix/name`; an earlier root wins a clash. */
  private list(prefix: string, directory: string, depth: number): void {
    let entries: Dirent[];
    try {
      entries = readdirSync(directory, { withFileTypes: true });
    } catch {
      // missing root (the client before a build): nothing to serve from it
      return;
    }
    for (const entry of entries) {
      if (this.paths.size >= MAX_FILES) return;
      const path = `${prefix}/${entry.name}`;
      if (!CANONICAL_PATH.test(path)) continue;
      // Symbolic links are not followed: nothing outside the roots is ever served.
      if (entry.isDirectory() && depth < MAX_DEPTH) this.list(path, join(directory, entry.name), depth + 1);
      else if (entry.isFile() && TYPES[extname(entry.name)] !== undefined && !this.paths.has(path))
        this.paths.set(path, join(directory, entry.name));
    }
  }

  private load(path: string): StaticFile | undefined {
    const cached = this.files.get(path);
    if (cached !== undefined) return cached;
    const full = this.paths.get(path);
    if (full === undefined) return undefined;
    const file = readStaticFile(full);
    if (file !== undefined) this.files.set(path, file);
    return file;
  }
}

function readStaticFile(full: string): StaticFile | undefined {
  const type = TYPES[extname(full)];
  if (type === undefined) return undefined;
  try {
    const body = readFileSync(full);
    const hashes = extname(full) === '.html' ? importMapHashes(body.toString('utf8')) : [];
    return { body, type, csp: contentSecurityPolicy(hashes) };
  } catch {
    // removed since the gateway started
    return undefined;
  }
}
