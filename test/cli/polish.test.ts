import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../../src/server/gateway.js';
import { runCli } from './helpers.js';

const root = resolve(import.meta.dirname, '..', '..');
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;

/** A command that must refuse to start: exit 2, one line on stderr naming what is wrong. */
async function refused(args: string[], env: Record<string, string>, ...mentions: RegExp[]): Promise<string> {
  const result = await runCli(args, { env, timeoutMs: 10_000 });
  expect(result.code, result.stderr).toBe(2);
  const lines = result.stderr.split('\n').filter((line) => line.trim() !== '');
  expect(lines, result.stderr).toHaveLength(1);
  for (const mention of mentions) expect(lines[0]).toMatch(mention);
  expect(result.stdout).toBe('');
  return lines[0] ?? '';
}

describe('sluice --version', () => {
  it('prints the package version', async () => {
    for (const flag of ['--version', '-v']) {
      const result = await runCli([flag]);
      expect(result.code).toBe(0);
      expect(result.stdout).toBe(`sluice ${version}\n`);
    }
  });
});

describe('sluice emulate --help', () => {
  it('documents --control and the fault API', async () => {
    const result = await runCli(['emulate', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/--control/);
    for (const path of [
      '/__control/enqueue',
      '/__control/defaults',
      '/__control/reset',
      '/__control/stats',
      '/__control/connections',
    ]) {
      expect(result.stdout).toContain(path);
    }
    for (const fault of [
      'http',
      'reset',
      'goaway',
      'stall',
      'malformed',
      'midstream_error',
      'no_finish',
      'content_filter',
    ]) {
      expect(result.stdout).toContain(`"type": "${fault}"`);
    }
  });
});

describe('malformed settings are refused, not ignored', () => {
  it('SLUICE_DEMO=yes and other values that are not what they must be', async () => {
    await refused(['serve', '--port', '0'], { SLUICE_DEMO: 'yes' }, /SLUICE_DEMO must be 1 or 0/, /"yes"/);
    await refused(['serve', '--port', '0'], { SLUICE_LOG: 'maybe' }, /SLUICE_LOG must be 1 or 0/);
    await refused(['serve', '--port', '0'], { SLUICE_RATE_LIMIT: '10 per minute' }, /SLUICE_RATE_LIMIT/);
    await refused(
      ['serve', '--port', '0'],
      { SLUICE_MAX_STREAMS_PER_KEY: '0' },
      /SLUICE_MAX_STREAMS_PER_KEY/,
    );
    await refused(['serve', '--port', '0'], { SLUICE_API_KEYS: 'has space,ok' }, /SLUICE_API_KEYS/);
    await refused(
      ['serve', '--port', '0'],
      { SLUICE_UPSTREAM_HTTP2: 'bogus' },
      /SLUICE_UPSTREAM_HTTP2 must be one of auto, h2c, off/,
      /"bogus"/,
    );
    await refused(['serve', '--port', '0'], { OPENAI_BASE_URL: 'api.openai.com/v1' }, /OPENAI_BASE_URL/);
    const redis = await refused(
      ['serve', '--port', '0'],
      { REDIS_URL: 'localhost:hunter2@6379' },
      /REDIS_URL must be a URL starting with redis:\/\//,
    );
    expect(redis).not.toContain('hunter2');
    // `npm start` (the `start` command) reads the same settings.
    await refused(['start', '--port', '0'], { SLUICE_DEMO: 'on' }, /SLUICE_DEMO/);
  });
});

describe('sluice serve --config', () => {
  const folder = mkdtempSync(join(tmpdir(), 'sluice-config-'));
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('names every mistake of the file by its path', async () => {
    const file = join(folder, 'wrong.json');
    writeFileSync(
      file,
      JSON.stringify({
        keys: ['sk-gw-ok-1', { key: 'has a space', limits: { rate: '5 per minute', max_streams: 0 } }],
        aliases: { fast: { provider: 'nope', model: 'x' }, slow: { provider: 'openai' } },
        fallbacks: [{ provider: 'together', model: 'no-such-model' }],
        limit: {},
      }),
    );
    const line = await refused(['serve', '--port', '0', '--config', file], {}, /wrong\.json is not valid/);
    for (const path of [
      'keys[1].key',
      'keys[1].limits.rate',
      'keys[1].limits.max_streams',
      'aliases.fast.provider',
      'aliases.slow.model',
      'fallbacks[0].model',
      'limit: unknown field',
    ]) {
      expect(line).toContain(path);
    }
  });

  it('refuses a file that is missing or not JSON', async () => {
    await refused(['serve', '--config', join(folder, 'none.json')], {}, /cannot read the configuration file/);
    const broken = join(folder, 'broken.json');
    writeFileSync(broken, '{"keys": [');
    await refused(['serve', '--config', broken], {}, /broken\.json(:\d+:\d+)?: not valid JSON: /);
  });
});

describe('chat and bench with a gateway that has keys', () => {
  let gateway: Gateway;
  beforeAll(async () => {
    gateway = await startGateway({
      env: { SLUICE_DEMO: '1', SLUICE_API_KEYS: 'sk-gw-cli-0001' },
      settings: { port: 0, host: '127.0.0.1' },
      webRoot: null,
    });
    gateway.emulator?.setDefaults({ ttftMs: 0, chunkDelayMs: 0, chunks: 5 });
  });
  afterAll(() => gateway?.close(200));

  it('send the key from --api-key or SLUICE_API_KEY; without one the refusal says why', async () => {
    const withOption = await runCli(['chat', 'Hello', '--url', gateway.url, '--api-key', 'sk-gw-cli-0001']);
    expect(withOption.code).toBe(0);
    const withEnv = await runCli(['chat', 'Hello', '--url', gateway.url], {
      env: { SLUICE_API_KEY: 'sk-gw-cli-0001' },
    });
    expect(withEnv.code).toBe(0);
    const without = await runCli(['chat', 'Hello', '--url', gateway.url]);
    expect(without.code).toBe(4);
    expect(without.stderr).toMatch(/\[401 unauthorized\]/);
    const bench = await runCli(
      ['bench', '--providers', 'openai', '--runs', '1', '--json', '--url', gateway.url],
      {
        env: { SLUICE_API_KEY: 'sk-gw-cli-0001' },
      },
    );
    expect(bench.code).toBe(0);
    expect(JSON.parse(bench.stdout).results[0]).toMatchObject({ provider: 'openai', ok: 1, emulated: true });
  });
});
