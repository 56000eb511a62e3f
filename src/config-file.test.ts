import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { keyFingerprint, loadSettings, parseRate } from './config.js';
import { loadConfigFile, parseConfig } from './config-file.js';

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

describe('loadConfigFile', () => {
  const folder = mkdtempSync(join(tmpdir(), 'sluice-config-file-'));
  afterAll(() => rmSync(folder, { recursive: true, force: true }));
  const write = (name: string, text: string): string => {
    const path = join(folder, name);
    writeFileSync(path, text);
    return path;
  };
  const expected = parseConfig({
    keys: ['sk-gw-1', { key: 'sk-gw-2', name: 'team-a', limits: { rate: '10/s', max_streams: 4 } }],
    aliases: { fast: { provider: 'openai', model: 'gpt-4o-mini' } },
    fallbacks: [{ provider: 'anthropic' }],
  });

  it('reads the same configuration from JSON, .yaml and .yml', () => {
    const yaml = `keys:
  - sk-gw-1
  - key: sk-gw-2
    name: team-a
    limits: {rate: 10/s, max_streams: 4}
aliases:
  fast: {provider: openai, model: gpt-4o-mini}
fallbacks:
  - provider: anthropic
`;
    expect(loadConfigFile(write('a.yaml', yaml))).toEqual(expected);
    expect(loadConfigFile(write('a.YML', yaml))).toEqual(expected);
    const json = JSON.stringify({
      keys: ['sk-gw-1', { key: 'sk-gw-2', name: 'team-a', limits: { rate: '10/s', max_streams: 4 } }],
      aliases: { fast: { provider: 'openai', model: 'gpt-4o-mini' } },
      fallbacks: [{ provider: 'anthropic' }],
    });
    expect(loadConfigFile(write('a.json', json))).toEqual(expected);
  });

  it('refuses a name whose extension names no format, rather than guessing', () => {
    for (const name of ['sluice.toml', 'sluice', 'sluice.conf'])
      expect(() => loadConfigFile(write(name, '{}'))).toThrow(
        /cannot tell the format .*: its name must end in \.json, \.yaml or \.yml$/,
      );
  });

  it('names the line and column of a YAML syntax error, in one line', () => {
    const path = write('bad.yaml', 'limits:\n  rate: 10/s\n   max_streams: 4\n');
    expect(() => loadConfigFile(path)).toThrow(`${path}:2:9: not valid YAML: `);
    // A repeated key, a second document, an unknown tag: each refused where it is.
    expect(() => loadConfigFile(write('dup.yaml', 'keys: []\nkeys: []\n'))).toThrow(
      /dup\.yaml:2:1: .*unique/,
    );
    expect(() => loadConfigFile(write('docs.yaml', 'keys: []\n---\nkeys: []\n'))).toThrow(/docs\.yaml:2:1: /);
    expect(() => loadConfigFile(write('tag.yaml', 'keys: !secret x\n'))).toThrow(/tag\.yaml:1:7: .*tag/);
    expect(() => loadConfigFile(write('empty.yaml', '# nothing yet\n'))).toThrow(/holds no configuration/);
    try {
      loadConfigFile(path);
    } catch (error) {
      expect(String(error)).not.toContain('\n');
    }
  });

  it('names each schema mistake by its path, and in YAML by its line and column', () => {
    const path = write(
      'schema.yaml',
      'keys:\n  - key: sk-gw-2\n    limits:\n      rate: ten a second\n      colour: red\nlimits: {max_streams: 0}\n',
    );
    expect(() => loadConfigFile(path)).toThrow(
      `${path} is not valid: keys[0].limits.rate (line 4, column 13): must be N/s, N/min or N/h; ` +
        'keys[0].limits.colour (line 5, column 15): unknown field; limits.max_streams (line 6, column 23): ',
    );
    // YAML 1.2: `yes` is a string, not true, so a key written `yes` stays a key.
    expect(loadConfigFile(write('yes.yaml', 'keys: [yes, on]\n')).keys?.map((key) => key.key)).toEqual([
      'yes',
      'on',
    ]);
  });

  it('names the line and column of a JSON syntax error, never quoting the text (it may hold a key)', () => {
    const cases: [string, RegExp][] = [
      ['{\n  "keys": ["sk-gw-secret-1",],\n}', /bad-0\.json(:2:\d+)?: not valid JSON: /],
      [
        '{\n  "keys": [],\n  "limits" {}\n}',
        /bad-1\.json(:3:12)?: not valid JSON: (Unexpected token|Expected ':')/,
      ],
      ['{"keys": ["sk-gw-secret-1"', /bad-2\.json(:1:\d+)?: not valid JSON: /],
    ];
    cases.forEach(([text, pattern], index) => {
      const path = write(`bad-${index}.json`, text);
      let message = '';
      try {
        loadConfigFile(path);
      } catch (error) {
        message = String(error);
      }
      expect(message).toMatch(pattern);
      expect(message).not.toContain('sk-gw-secret');
      expect(message).not.toContain('\n');
    });
  });
});
