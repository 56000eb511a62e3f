import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/gateway.js';
import { chatBody, postStream, textOf } from '../helpers/sse.js';
import { type Child, runCli, spawnCli, spawnEmulator, spawnGateway } from './processes.js';

const KEY = 'sk-gw-log-check-000111';
const PROMPT = 'Tell me about the secret word Quillfeather';

let emulator: Awaited<ReturnType<typeof spawnEmulator>>;
let gateway: Child;

beforeAll(async () => {
  emulator = await spawnEmulator();
  gateway = await spawnGateway(emulator.url, { SLUICE_API_KEYS: KEY, SLUICE_RATE_LIMIT: '100/min' });
}, 30_000);
afterAll(async () => {
  await Promise.all([gateway?.stop(), emulator?.stop()]);
});

const lines = (): Record<string, unknown>[] =>
  gateway
    .stdout()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe('log lines of a gateway process', () => {
  it('are JSON on stdout with level, time and msg: one per finished generation and per refused request', async () => {
    const ok = await postStream(
      gateway.url,
      chatBody('openai', { messages: [{ role: 'user', content: PROMPT }] }),
      { headers: { authorization: `Bearer ${KEY}`, 'x-request-id': 'req-log-ok' } },
    );
    expect(ok.status).toBe(200);
    const answer = textOf(ok.frames);
    expect(answer.length).toBeGreaterThan(20);
    const refused = await postStream(gateway.url, chatBody(), {
      headers: { authorization: 'Bearer sk-gw-wrong-key-999', 'x-request-id': 'req-log-401' },
    });
    expect(refused.status).toBe(401);
    const invalid = await postStream(gateway.url, chatBody('nope'), {
      headers: { 'x-api-key': KEY, 'x-request-id': 'req-log-400' },
    });
    expect(invalid.status).toBe(400);

    await eventually(() => lines().length >= 3, 5000, 'three log lines');
    const logged = lines();
    for (const line of logged) {
      expect(['debug', 'info', 'warn', 'error']).toContain(line.level);
      expect(typeof line.time).toBe('string');
      expect(Number.isNaN(Date.parse(String(line.time)))).toBe(false);
      expect(typeof line.msg).toBe('string');
    }
    const ended = logged.filter((line) => line.msg === 'generation ended');
    expect(ended).toHaveLength(1);
    expect(ended[0]).toMatchObject({
      request_id: 'req-log-ok',
      generation_id: ok.frames[0]?.data.generation_id,
      provider: 'openai',
      finish_reason: 'stop',
      key: expect.stringMatching(/^key_[0-9a-f]{12}$/),
    });
    expect(ended[0]?.output_tokens).toBeGreaterThan(0);
    const refusals = logged.filter((line) => line.msg === 'request refused');
    expect(refusals.map((line) => [line.request_id, line.status, line.code])).toEqual([
      ['req-log-401', 401, 'unauthorized'],
      ['req-log-400', 400, 'unknown_provider'],
    ]);
    // Never message content, never a key (not even the wrong one).
    const stdout = gateway.stdout();
    expect(stdout).not.toContain('Quillfeather');
    expect(stdout).not.toContain(answer.slice(0, 20));
    expect(stdout).not.toContain(KEY);
    expect(stdout).not.toContain('sk-gw-wrong-key');
  });

  it('leave stdout to the JSON lines: the banner goes to stderr', () => {
    const stderr = gateway.stderr();
    const stdout = gateway.stdout();
    expect(stderr).toMatch(/sluice gateway listening on http:\/\//);
    expect(stderr).not.toContain(KEY);
    expect(gateway.output()).not.toContain(KEY);
    for (const line of stdout.split('\n').filter((text) => text !== ''))
      expect(line.startsWith('{')).toBe(true);
  });
});

describe('SLUICE_LOG_LEVEL', () => {
  it('silent writes no line; debug adds one per answered request; a bad value is refused', async () => {
    const quiet = await spawnGateway(emulator.url, { SLUICE_LOG_LEVEL: 'silent' });
    const verbose = await spawnGateway(emulator.url, { SLUICE_LOG_LEVEL: 'debug' });
    try {
      expect((await postStream(quiet.url, chatBody())).status).toBe(200);
      expect(
        (await postStream(verbose.url, chatBody(), { headers: { 'x-request-id': 'req-debug' } })).status,
      ).toBe(200);
      await eventually(() => verbose.stdout().includes('"msg":"request answered"'), 5000, 'the debug line');
      const answered = verbose
        .stdout()
        .split('\n')
        .filter((line) => line.includes('request answered'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(answered[0]).toMatchObject({ level: 'debug', request_id: 'req-debug', status: 200 });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(quiet.stdout()).toBe('');
    } finally {
      await Promise.all([quiet.stop(), verbose.stop()]);
    }
    const refused = await runCli(['serve', '--port', '0'], { SLUICE_LOG_LEVEL: 'chatty' });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/SLUICE_LOG_LEVEL must be one of debug, info, warn, error, silent/);
  }, 30_000);
});

describe('an open gateway beyond loopback', () => {
  it('says so at start', async () => {
    const open = await spawnCli(['serve', '--demo', '--port', '0', '--host', '0.0.0.0']);
    try {
      await eventually(() => open.output().includes('warning'), 5000, 'the warning');
      expect(open.output()).toMatch(/the gateway is open/);
    } finally {
      await open.stop();
    }
  });
});
