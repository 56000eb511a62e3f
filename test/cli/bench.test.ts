import { spawn } from 'node:child_process';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { planTargets } from '../../src/cli/bench.js';
import { benchTable, summarize } from '../../src/cli/bench-report.js';
import type { HealthResult } from '../../src/client/index.js';
import type { Gateway } from '../../src/server/gateway.js';
import { emulatorOf, startDemoGateway } from '../client/helpers.js';
import { hasScript } from '../helpers/system.js';
import { CLI, closedPort, completion, runCli } from './helpers.js';

interface Figures {
  median: number;
  p90: number;
  min: number;
  max: number;
}
interface BenchDocument {
  runs: number;
  results: {
    provider: string;
    model: string;
    ok: number;
    failed: number;
    ttft_ms: Figures;
    tokens_per_second: Figures;
    samples: unknown[];
  }[];
}

function ordered(figures: Figures): boolean {
  return figures.min <= figures.median && figures.median <= figures.p90 && figures.p90 <= figures.max;
}

describe('sluice bench', () => {
  let gateway: Gateway;
  let url: string;

  beforeAll(async () => {
    gateway = await startDemoGateway();
    url = gateway.url;
  });
  afterAll(() => gateway?.close(1000));
  beforeEach(() => {
    emulatorOf(gateway).reset();
    emulatorOf(gateway).setDefaults({ ttftMs: 20, chunkDelayMs: 3, chunks: 10 });
  });

  it('--json reports median, p90 and spread per provider with default models', async () => {
    const result = await runCli([
      'bench',
      '--providers',
      'openai,anthropic',
      '--runs',
      '3',
      '--json',
      '--url',
      url,
    ]);
    expect(result.code).toBe(0);
    const document = JSON.parse(result.stdout) as BenchDocument;
    const status = (await (await fetch(`${url}/api/v1/chat/stream/health`)).json()) as HealthResult;
    expect(document.results.map((entry) => [entry.provider, entry.model])).toEqual([
      ['openai', status.providers.openai?.default_model],
      ['anthropic', status.providers.anthropic?.default_model],
    ]);
    for (const entry of document.results) {
      // Demo mode: the figures are the emulator's, and the document says so.
      expect(entry).toMatchObject({ ok: 3, failed: 0, emulated: true });
      expect(entry.samples).toHaveLength(3);
      expect(ordered(entry.ttft_ms)).toBe(true);
      expect(ordered(entry.tokens_per_second)).toBe(true);
      // The emulator waits 20 ms before its first byte.
      expect(entry.ttft_ms.min).toBeGreaterThanOrEqual(15);
    }
    expect(emulatorOf(gateway).stats('openai').requests).toBe(3);
    expect(emulatorOf(gateway).stats('anthropic').requests).toBe(3);
    expect(result.stderr).toBe('');
  });

  it('prints a table, with models chosen per provider and runs in parallel', async () => {
    const result = await runCli([
      'bench',
      '--providers',
      'openai',
      '--models',
      'gpt-4o,openai:gpt-4.1-mini',
      '--runs',
      '2',
      '--concurrency',
      '4',
      '--url',
      url,
    ]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^provider\s+model\s+ok\s+ttft ms p50\s+ttft ms p90\s+ttft ms min-max\s+tok\/s p50/,
    );
    expect(lines.slice(1)).toHaveLength(2);
    expect(lines[1]).toMatch(/^openai\s+gpt-4o\s+2\/2\s+\d+\s+\d+\s+\d+-\d+\s+[\d.]+/);
    expect(lines[2]).toMatch(/^openai\s+gpt-4\.1-mini\s+2\/2/);
    expect(lines[1]).toMatch(/\s+emulator$/);
    // stderr is not a terminal here: no progress bar.
    expect(result.stderr).toBe('');
  });

  it.runIf(hasScript())('draws a progress bar when stderr is a terminal', async () => {
    // `script` runs the CLI on a pseudo-terminal; stdout and stderr arrive merged.
    const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} bench --providers openai --runs 3 --url ${url}`;
    const result = await completion(spawn('script', ['-qec', command, '/dev/null']));
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`[${'-'.repeat(24)}] 0/3 starting`);
    expect(result.stdout).toMatch(/\[#{24}\] 3\/3 openai\//);
    // The bar is erased before the table.
    const erase = '\r\u001b[K';
    expect(result.stdout.lastIndexOf(erase)).toBeLessThan(result.stdout.indexOf('provider'));
    expect(result.stdout.indexOf('provider')).toBeGreaterThan(0);
  });

  it('exits 3 when the gateway is not reachable, 4 when it refuses, 2 on usage errors', async () => {
    const unreachable = await runCli(['bench', '--url', `http://127.0.0.1:${await closedPort()}`]);
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toMatch(/is the gateway running at/);

    const refused = await runCli(['bench', '--providers', 'nope', '--runs', '3', '--url', url]);
    expect(refused.code).toBe(4);
    expect(refused.stdout).toMatch(/nope\s+\(default\)\s+0\/3/);
    expect(refused.stdout).toMatch(/1 failed: refused: unknown provider "nope"/);
    expect(refused.stdout).toMatch(/2 skipped/);

    expect((await runCli(['bench', '--runs', '0', '--url', url])).code).toBe(2);
    expect(
      (await runCli(['bench', '--models', 'anthropic:x', '--providers', 'openai', '--url', url])).code,
    ).toBe(2);
  });

  it('exits 1 when a run fails, and still reports the others', async () => {
    emulatorOf(gateway).enqueue('openai', { fault: { type: 'midstream_error', afterChunks: 2 } });
    const result = await runCli(['bench', '--providers', 'openai', '--runs', '2', '--url', url]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/openai\s+\S+\s+1\/2/);
    expect(result.stdout).toMatch(/1 failed: overloaded/);
  });
});

describe('bench figures', () => {
  it('summarizes with the median, nearest-rank p90 and range', () => {
    expect(summarize([])).toBeNull();
    expect(summarize([5])).toEqual({ median: 5, p90: 5, min: 5, max: 5 });
    expect(summarize([4, 1, 3, 2])).toEqual({ median: 2.5, p90: 4, min: 1, max: 4 });
    const hundred = Array.from({ length: 100 }, (_, index) => 100 - index);
    expect(summarize(hundred)).toEqual({ median: 50.5, p90: 90, min: 1, max: 100 });
  });

  it('plans provider:model entries for their provider only, plain ones everywhere', () => {
    const status: HealthResult = {
      status: 'ok',
      active_streams: 0,
      providers: {
        openai: { configured: true, emulated: true, default_model: 'gpt-4o-mini' },
        ollama: { configured: true, emulated: true, default_model: 'llama3.2' },
        gemini: { configured: false, emulated: false, default_model: 'gemini-2.5-flash' },
      },
    };
    const plan = (providers?: string[], models?: string[]) =>
      planTargets(status, providers, models).map((target) => `${target.provider}/${target.model}`);
    expect(plan()).toEqual(['openai/gpt-4o-mini', 'ollama/llama3.2']);
    expect(plan(['ollama'], ['gpt-oss:20b'])).toEqual(['ollama/gpt-oss:20b']);
    expect(plan(undefined, ['ollama:qwen3'])).toEqual(['openai/gpt-4o-mini', 'ollama/qwen3']);
  });

  it('lays the table out in aligned columns', () => {
    const sample = {
      ttftMs: 100,
      tokensPerSecond: 50,
      outputTokens: 10,
      durationMs: 300,
      finishReason: 'stop',
    };
    const table = benchTable(
      [
        {
          provider: 'openai',
          model: 'gpt-4o',
          samples: [sample, { ...sample, ttftMs: 300 }],
          failures: [],
          skipped: 0,
          emulated: true,
        },
      ],
      2,
    );
    const [header, row] = table.split('\n');
    expect(header).toMatch(/\s+served by$/);
    expect(row).toMatch(
      /^openai\s+gpt-4o\s+2\/2\s+200\s+300\s+100-300\s+50\.0\s+50\.0\s+50\.0-50\.0\s+emulator$/,
    );
    // Numbers are right-aligned under their titles.
    expect((header?.indexOf(' ok ') ?? 0) + 3).toBe((row?.indexOf('2/2') ?? 0) + 3);
  });
});
