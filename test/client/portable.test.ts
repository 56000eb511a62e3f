import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The client must run unchanged in browsers: the page loads dist/client through an import map
 * that knows only relative files and `eventsource-parser`. Type-only imports vanish at build.
 */
const folder = resolve(import.meta.dirname, '..', '..', 'src', 'client');
const files = readdirSync(folder).filter((name) => name.endsWith('.ts'));
const IMPORT = /^(import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)'/gms;

describe('client portability', () => {
  it.each(files)('%s imports only relative .js files and eventsource-parser, and no Node globals', (name) => {
    const source = readFileSync(join(folder, name), 'utf8');
    for (const match of source.matchAll(IMPORT)) {
      const [, , typeOnly, specifier = ''] = match;
      if (typeOnly !== undefined && specifier.startsWith('../protocol/')) continue;
      expect(specifier === 'eventsource-parser' || /^\.\/[\w-]+\.js$/.test(specifier), specifier).toBe(true);
    }
    expect(source).not.toMatch(/\bnode:|\bprocess\.|\bBuffer\b|\brequire\(/);
  });
});
