import { describe, expect, it } from 'vitest';
import { PROVIDERS } from '../providers/registry.js';
import { allDialects, dialectFor, EMULATOR_DIALECTS } from './dialects.js';

describe('emulator dialect registry', () => {
  it('has one dialect per provider, in the registry order', () => {
    expect([...EMULATOR_DIALECTS.keys()]).toEqual(PROVIDERS.map((provider) => provider.id));
    expect(allDialects().map((dialect) => dialect.provider)).toEqual(
      PROVIDERS.map((provider) => provider.id),
    );
  });

  it('builds one provider dialect and refuses an unknown provider', () => {
    for (const provider of PROVIDERS) expect(dialectFor(provider.id).provider).toBe(provider.id);
    expect(() => dialectFor('nope')).toThrow(/no emulator dialect/);
  });
});
