import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatBody, postStream } from '../helpers/sse.js';
import { type Child, runCli, spawnEmulator, spawnGateway } from './processes.js';

/** `sluice serve --config sluice.yaml`: the gateway process configured by a YAML file. */

const folder = mkdtempSync(join(tmpdir(), 'sluice-yaml-'));
const YAML_FILE = `# Sluice gateway configuration
keys:
  - sk-gw-yaml-plain-0001
  - key: sk-gw-yaml-team-0002
    name: team-a
    limits:
      rate: 2/min          # this key's own budget
limits:
  rate: 1/min              # SLUICE_RATE_LIMIT, set below, wins over this
aliases:
  fast: {provider: anthropic, model: claude-haiku-4-5}
fallbacks:
  - provider: anthropic
    model: claude-haiku-4-5
`;

let emulator: Awaited<ReturnType<typeof spawnEmulator>>;
let gateway: Child;

beforeAll(async () => {
  const file = join(folder, 'sluice.yaml');
  writeFileSync(file, YAML_FILE);
  emulator = await spawnEmulator();
  gateway = await spawnGateway(
    emulator.url,
    {
      ANTHROPIC_API_KEY: 'sk-ant-test-process',
      ANTHROPIC_BASE_URL: `${emulator.url}/anthropic`,
      SLUICE_RATE_LIMIT: '100/min',
      SLUICE_MAX_RETRIES: '0',
    },
    ['--config', file],
  );
}, 30_000);
afterAll(async () => {
  await Promise.all([gateway?.stop(), emulator?.stop()]);
  rmSync(folder, { recursive: true, force: true });
});

const plain = { headers: { authorization: 'Bearer sk-gw-yaml-plain-0001' } };
const team = { headers: { 'x-api-key': 'sk-gw-yaml-team-0002' } };

describe('a gateway process started with --config sluice.yaml', () => {
  it('needs the keys of the file', async () => {
    expect((await postStream(gateway.url, chatBody())).status).toBe(401);
    expect(gateway.stderr()).toMatch(/keys: +2 gateway key\(s\) required/);
  });

  it('serves a model alias with its provider and model', async () => {
    const result = await postStream(gateway.url, chatBody('openai', { model: 'fast' }), plain);
    expect(result.status).toBe(200);
    expect(result.frames[0]?.data).toMatchObject({ provider: 'anthropic', model: 'claude-haiku-4-5' });
    expect(result.frames.at(-1)?.event).toBe('done');
  });

  it('hands a failing request that names no fallbacks to the default ones', async () => {
    await emulator.script('openai', { fault: { type: 'http', status: 503 } });
    const result = await postStream(gateway.url, chatBody('openai'), plain);
    expect(result.status).toBe(200);
    const fallback = result.frames.find((frame) => frame.event === 'fallback')?.data;
    expect(fallback).toMatchObject({
      from: { provider: 'openai' },
      to: { provider: 'anthropic', model: 'claude-haiku-4-5' },
      code: 'overloaded',
    });
    expect(result.frames.map((frame) => frame.event)).not.toContain('error');
  });

  it("applies a key's own limits, and the environment's limit over the file's", async () => {
    // team-a: 2 requests a minute, its own.
    const first = await postStream(gateway.url, chatBody(), team);
    expect(first.headers.get('ratelimit-limit')).toBe('2');
    expect((await postStream(gateway.url, chatBody(), team)).status).toBe(200);
    const refused = await postStream(gateway.url, chatBody(), team);
    expect(refused.status).toBe(429);
    expect(refused.json?.error?.code ?? refused.json?.code).toBe('rate_limited');
    // The plain key has no limits of its own: SLUICE_RATE_LIMIT (100/min), not the file's 1/min.
    const again = await postStream(gateway.url, chatBody(), plain);
    expect(again.status).toBe(200);
    expect(again.headers.get('ratelimit-limit')).toBe('100');
  });
});

describe('a configuration file the gateway refuses', () => {
  const refusal = async (name: string, text: string) => {
    const file = join(folder, name);
    writeFileSync(file, text);
    return { file, result: await runCli(['serve', '--port', '0', '--config', file], { SLUICE_DEMO: '1' }) };
  };
  const oneLine = (stderr: string): string => {
    const lines = stderr.split('\n').filter((line) => line !== '');
    expect(lines).toHaveLength(1);
    return lines[0] ?? '';
  };

  it('malformed YAML: one line with the file, line and column, and exit 2', async () => {
    const { file, result } = await refusal('broken.yaml', 'keys:\n  - sk-gw-1\nlimits:\n\trate: 10/s\n');
    expect(result.hung).toBe(false);
    expect(result.code).toBe(2);
    expect(oneLine(result.stderr)).toMatch(
      new RegExp(
        `^sluice: ${file.replaceAll('.', '\\.')}:4:1: not valid YAML: Tabs are not allowed as indentation$`,
      ),
    );
    expect(result.stdout).toBe('');
  });

  it('a schema mistake: named by its path, line and column', async () => {
    const { result } = await refusal('limits.yml', 'limits:\n  rate: ten a second\n');
    expect(result.code).toBe(2);
    expect(oneLine(result.stderr)).toMatch(
      /limits\.yml is not valid: limits\.rate \(line 2, column 9\): must be N\/s, N\/min or N\/h$/,
    );
  });

  it('an extension that names no format', async () => {
    const { result } = await refusal('sluice.toml', 'keys = []\n');
    expect(result.code).toBe(2);
    expect(oneLine(result.stderr)).toMatch(/its name must end in \.json, \.yaml or \.yml$/);
  });
});
