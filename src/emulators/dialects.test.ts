import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HTTP_PROVIDERS } from '../providers/registry.js';
import { allDialects, dialectFor, EMULATOR_DIALECTS } from './dialects.js';

const SRC = resolve(import.meta.dirname, '..');
const IMPORT = /^(import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)'/gms;
/** Modules that may load the emulators at startup; the gateway loads them only in demo mode. */
const MAY_LOAD = [/^emulators\//, /^providers\/\w+\/emulator\.ts$/, /^cli\/emulate\.ts$/];

function sources(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return entry.name === 'fixtures' ? [] : sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('emulator dialect registry', () => {
  it('has one dialect per provider, in the registry order', () => {
    expect([...EMULATOR_DIALECTS.keys()]).toEqual(HTTP_PROVIDERS.map((provider) => provider.id));
    expect(allDialects().map((dialect) => dialect.provider)).toEqual(
      HTTP_PROVIDERS.map((provider) => provider.id),
    );
  });

  it('builds one provider dialect and refuses an unknown provider', () => {
    for (const provider of HTTP_PROVIDERS) expect(dialectFor(provider.id).provider).toBe(provider.id);
    expect(() => dialectFor('nope')).toThrow(/no emulator dialect/);
  });

  it('is imported, beyond type imports, only by the emulators and `sluice emulate`', () => {
    const offenders: string[] = [];
    for (const file of sources(SRC)) {
      const name = relative(SRC, file);
      if (MAY_LOAD.some((pattern) => pattern.test(name))) continue;
      for (const [, , typeOnly, specifier = ''] of readFileSync(file, 'utf8').matchAll(IMPORT)) {
        if (typeOnly === undefined && /\/emulators?(\/|\.js$)/.test(specifier)) {
          offenders.push(`${name}: ${specifier}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });
});
