import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The client must run unchanged in browsers: the page loads dist/client through an import map
 * that knows only relative files and `eventsource-parser`, and the gateway serves dist/client
 * and dist/protocol. Type-only imports vanish at build.
 */
const src = resolve(import.meta.dirname, '..', '..', 'src');
const folder = join(src, 'client');
const files = readdirSync(folder).filter((name) => name.endsWith('.ts'));
const IMPORT = /^(import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)'/gms;
/** The one protocol module the browser loads; the rest of src/protocol is for Node. */
const BROWSER_PROTOCOL = '../protocol/http.js';

function imports(path: string): { typeOnly: boolean; specifier: string }[] {
  return [...readFileSync(path, 'utf8').matchAll(IMPORT)].map(([, , typeOnly, specifier = '']) => ({
    typeOnly: typeOnly !== undefined,
    specifier,
  }));
}

const NODE_ONLY = /\bnode:|\bprocess\.|\bBuffer\b|\brequire\(/;

describe('client portability', () => {
  it.each(files)(
    '%s imports only relative .js files, eventsource-parser and the protocol module, and no Node globals',
    (name) => {
      for (const { typeOnly, specifier } of imports(join(folder, name))) {
        if (typeOnly && specifier.startsWith('../protocol/')) continue;
        const allowed =
          specifier === 'eventsource-parser' ||
          specifier === BROWSER_PROTOCOL ||
          /^\.\/[\w-]+\.js$/.test(specifier);
        expect(allowed, specifier).toBe(true);
      }
      expect(readFileSync(join(folder, name), 'utf8')).not.toMatch(NODE_ONLY);
    },
  );

  it('the chat page imports only the client at run time, by a path that works in dist and when served', () => {
    const path = join(src, 'web', 'app.ts');
    for (const { typeOnly, specifier } of imports(path)) {
      expect(typeOnly || specifier === '../client/index.js', specifier).toBe(true);
    }
    expect(readFileSync(path, 'utf8')).not.toMatch(NODE_ONLY);
  });

  it('the protocol module the client loads imports nothing at run time and uses no Node globals', () => {
    const path = join(src, 'protocol', 'http.ts');
    for (const { typeOnly, specifier } of imports(path)) expect(typeOnly, specifier).toBe(true);
    expect(readFileSync(path, 'utf8')).not.toMatch(NODE_ONLY);
  });
});
