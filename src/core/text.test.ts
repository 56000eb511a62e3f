import { describe, expect, it } from 'vitest';
import { isShortTextBelow } from './text.js';

describe('isShortTextBelow', () => {
  it('is true only for a short text whose every code unit is below the limit', () => {
    expect(isShortTextBelow('', 0x85)).toBe(true);
    expect(isShortTextBelow('hello world', 0x85)).toBe(true);
    expect(isShortTextBelow('caf\u00e9', 0x100)).toBe(true);
    expect(isShortTextBelow('caf\u00e9', 0xe9)).toBe(false);
    expect(isShortTextBelow('a\u2028b', 0x85)).toBe(false);
    expect(isShortTextBelow('\u{1F600}', 0x100)).toBe(false);
    // Long texts are left to the caller's slower look, whatever they hold.
    expect(isShortTextBelow('a'.repeat(63), 0x85)).toBe(true);
    expect(isShortTextBelow('a'.repeat(64), 0x85)).toBe(false);
  });
});
