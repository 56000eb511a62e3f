import { describe, expect, it } from 'vitest';
import { keyFingerprint, loadSettings, parseRate } from './config.js';
import { parseConfig } from './config-file.js';

describe('parseRate', () => {
  it('reads N/s, N/min and N/h', () => {
    expect(parseRate('10/s')).toEqual({ points: 10, seconds: 1, text: '10/s' });
    expect(parseRate(' 60 / min ')).toEqual({ points: 60, seconds: 60, text: '60/min' });
    expect(parseRate('1000/h')).toEqual({ points: 1000, seconds: 3600, text: '1000/h' });
    for (const bad of ['0/s', '10', '10/m', '10/sec', '-1/s', '1.5/s', ''])
      expect(parseRate(bad), bad).toBeUndefined();
  });
});

describe('the configuration file and the environment', () => {
  const file = parseConfig({
    keys: ['sk-gw-plain', { key: 'sk-gw-team', name: 'team', limits: { rate: '5/s', tokens_per_min: 1000 } }],
    limits: { rate: '60/min', max_streams: 4 },
    aliases: { fast: { provider: 'openai', model: 'gpt-4o-mini' } },
    fallbacks: [{ provider: 'anthropic' }, { provider: 'gemini', model: 'gemini-2.5-flash' }],
  });

  it('gives keys (named, or by fingerprint), limits, aliases and fallbacks', () => {
    const settings = loadSettings({}, file);
    expect(settings.apiKeys).toEqual([
      { id: keyFingerprint('sk-gw-plain'), key: 'sk-gw-plain', limits: {} },
      {
        id: 'team',
        key: 'sk-gw-team',
        limits: { rate: { points: 5, seconds: 1, text: '5/s' }, tokens_per_min: 1000 },
      },
    ]);
    expect(settings.rateLimit).toEqual({ points: 60, seconds: 60, text: '60/min' });
    expect(settings.maxStreamsPerKey).toBe(4);
    expect(settings.tokensPerMin).toBeUndefined();
    expect(settings.modelAliases).toEqual({ fast: { provider: 'openai', model: 'gpt-4o-mini' } });
    expect(settings.defaultFallbacks).toEqual([
      { provider: 'anthropic' },
      { provider: 'gemini', model: 'gemini-2.5-flash' },
    ]);
  });

  it('lets environment variables win', () => {
    const settings = loadSettings(
      { SLUICE_API_KEYS: 'sk-gw-team,sk-gw-env', SLUICE_RATE_LIMIT: '2/s', SLUICE_MAX_STREAMS_PER_KEY: '1' },
      file,
    );
    // The file's key keeps its name and limits; the file's other key is not a key any more.
    expect(settings.apiKeys.map((key) => key.id)).toEqual(['team', keyFingerprint('sk-gw-env')]);
    expect(settings.apiKeys[0]?.limits.rate?.text).toBe('5/s');
    expect(settings.rateLimit?.text).toBe('2/s');
    expect(settings.maxStreamsPerKey).toBe(1);
  });

  it('names repeated keys and names', () => {
    expect(() =>
      parseConfig({
        keys: ['sk-a', { key: 'sk-a' }, { key: 'sk-b', name: 'x' }, { key: 'sk-c', name: 'x' }],
      }),
    ).toThrow(/keys\[1\]: repeats keys\[0\].*keys\[3\]\.name: repeats the name of keys\[2\]/);
    expect(() =>
      parseConfig({ fallbacks: Array.from({ length: 5 }, () => ({ provider: 'openai' })) }),
    ).toThrow(/fallbacks: /);
    expect(() => parseConfig([])).toThrow(/\(top level\)/);
  });
});
