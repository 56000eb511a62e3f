import { describe, expect, it } from 'vitest';
import { KeyRing } from './auth.js';

const ring = new KeyRing([
  { id: 'alpha', key: 'sk-alpha-000' },
  { id: 'beta', key: 'sk-beta-000' },
]);

describe('KeyRing', () => {
  it('identifies a key given as Bearer or X-Api-Key', () => {
    expect(ring.identify({ authorization: 'Bearer sk-alpha-000' })).toEqual({ kind: 'key', keyId: 'alpha' });
    expect(ring.identify({ authorization: 'bearer   sk-beta-000 ' })).toEqual({ kind: 'key', keyId: 'beta' });
    expect(ring.identify({ 'x-api-key': 'sk-beta-000' })).toEqual({ kind: 'key', keyId: 'beta' });
    // A proxy's Basic credentials leave X-Api-Key to say which gateway key it is.
    expect(ring.identify({ authorization: 'Basic abc', 'x-api-key': 'sk-alpha-000' })).toEqual({
      kind: 'key',
      keyId: 'alpha',
    });
  });

  it('tells no key from a wrong one', () => {
    expect(ring.identify({})).toEqual({ kind: 'none' });
    expect(ring.identify({ authorization: 'Basic abc' })).toEqual({ kind: 'none' });
    expect(ring.identify({ authorization: 'Bearer sk-alpha-00' })).toEqual({ kind: 'invalid' });
    expect(ring.identify({ 'x-api-key': 'sk-alpha-0000' })).toEqual({ kind: 'invalid' });
    expect(new KeyRing([]).enabled).toBe(false);
    expect(ring.enabled).toBe(true);
  });

  it('compares whole keys: padding, a shorter or a multi-byte key never match another', () => {
    const mixed = new KeyRing([
      { id: 'short', key: 'k1' },
      { id: 'wide', key: 'ключ-ü-1' },
    ]);
    expect(mixed.identify({ 'x-api-key': 'k1' })).toEqual({ kind: 'key', keyId: 'short' });
    expect(mixed.identify({ 'x-api-key': 'ключ-ü-1' })).toEqual({ kind: 'key', keyId: 'wide' });
    // The same bytes as a key followed by the padding's zero byte is another key.
    expect(mixed.identify({ 'x-api-key': 'k1\u0000' })).toEqual({ kind: 'invalid' });
    expect(mixed.identify({ 'x-api-key': 'k' })).toEqual({ kind: 'invalid' });
    expect(mixed.identify({ 'x-api-key': 'ключ-ü-2' })).toEqual({ kind: 'invalid' });
    // As many UTF-16 units as the longest key, three bytes each: written whole, still no match.
    expect(mixed.identify({ 'x-api-key': '€'.repeat(8) })).toEqual({ kind: 'invalid' });
    expect(mixed.identify({ 'x-api-key': 'x'.repeat(9) })).toEqual({ kind: 'invalid' });
  });

  it('signs stream tokens for one generation of one key', () => {
    const token = ring.streamToken('alpha', 'gen_1') ?? '';
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(token).not.toContain('sk-alpha');
    expect(ring.checkStreamToken('alpha', 'gen_1', token)).toBe(true);
    expect(ring.checkStreamToken('alpha', 'gen_2', token)).toBe(false);
    expect(ring.checkStreamToken('beta', 'gen_1', token)).toBe(false);
    expect(ring.checkStreamToken('alpha', 'gen_1', `${token}x`)).toBe(false);
    expect(ring.checkStreamToken('gone', 'gen_1', token)).toBe(false);
    // Every instance with the same keys signs the same way.
    const again = new KeyRing([{ id: 'alpha', key: 'sk-alpha-000' }]);
    expect(again.streamToken('alpha', 'gen_1')).toBe(token);
  });
});
