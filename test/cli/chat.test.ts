import { spawn } from 'node:child_process';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/server/gateway.js';
import { emulatorOf, startDemoGateway, waitFor } from '../client/helpers.js';
import { hasScript } from '../helpers/system.js';
import { CLI, closedPort, completion, runCli, spawnCli } from './helpers.js';

/** The built `sluice` binary as a subprocess, against a demo gateway in this process. */

const STATS_LINE = /ttft \d+ ms \| [\d.]+ tok\/s \| tokens in \d+, out \d+ \| finish stop \| [\d.]+ s total/;

describe('sluice chat', () => {
  let gateway: Gateway;
  let url: string;

  beforeAll(async () => {
    gateway = await startDemoGateway();
    url = gateway.url;
  });
  afterAll(() => gateway?.close(1000));
  beforeEach(() => {
    emulatorOf(gateway).reset();
    emulatorOf(gateway).setDefaults({ ttftMs: 5, chunkDelayMs: 2, chunks: 12 });
  });

  it('documents itself with --help and exits 0', async () => {
    const chatHelp = await runCli(['chat', '--help']);
    expect(chatHelp.code).toBe(0);
    expect(chatHelp.stdout).toMatch(/Usage: sluice chat/);
    expect(chatHelp.stdout).toMatch(/--thinking-budget N/);
    expect(chatHelp.stdout).toMatch(/130 {2}interrupted/);

    const benchHelp = await runCli(['bench', '--help']);
    expect(benchHelp.code).toBe(0);
    expect(benchHelp.stdout).toMatch(/Usage: sluice bench/);

    const main = await runCli(['help']);
    expect(main.code).toBe(0);
    expect(main.stdout).toMatch(/chat {7}stream one answer/);
    expect(main.stdout).toMatch(/bench {6}measure/);
    expect(main.stdout).toMatch(/3 {4}the gateway is not reachable/);
    expect((await runCli(['help', 'chat'])).stdout).toBe(chatHelp.stdout);
    for (const command of ['serve', 'emulate']) {
      const help = await runCli([command, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`Usage: sluice ${command}`));
    }
  });

  it('streams the answer to stdout as it arrives, then a stats line on stderr', async () => {
    const text = 'Rivers meander because fast outer banks erode while slow inner banks collect silt.';
    emulatorOf(gateway).enqueue('openai', { text, ttftMs: 20, chunkDelayMs: 60 });
    const child = spawnCli(['chat', 'Why do rivers meander?', '--url', url]);
    let firstOutputAt: number | undefined;
    child.stdout?.once('data', () => {
      firstOutputAt = Date.now();
    });
    const result = await completion(child);
    const exitedAt = Date.now();

    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${text}\n`);
    // 13 pieces 60 ms apart: output that only appeared at the end would arrive with the exit.
    expect(exitedAt - (firstOutputAt ?? exitedAt)).toBeGreaterThan(400);
    expect(result.stderr).toMatch(STATS_LINE);
    expect(result.stderr).not.toContain('\u001b[');
  });

  it('sends the prompt, system message and options the flags give', async () => {
    const result = await runCli([
      'chat',
      'What is a meander?',
      '--url',
      url,
      '--model',
      'gpt-4o',
      '--system',
      'Be brief.',
      '--temperature',
      '0.3',
      '--max-tokens',
      '50',
    ]);
    expect(result.code).toBe(0);
    const body = emulatorOf(gateway).stats('openai').bodies.at(-1) as Record<string, unknown>;
    expect(body).toMatchObject({
      model: 'gpt-4o',
      temperature: 0.3,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'What is a meander?' },
      ],
    });
  });

  it('reads the prompt from stdin with "-" and honours SLUICE_URL', async () => {
    const result = await runCli(['chat', '-'], {
      input: 'A prompt from a pipe\n',
      env: { SLUICE_URL: url },
    });
    expect(result.code).toBe(0);
    const body = emulatorOf(gateway).stats('openai').bodies.at(-1) as { messages: { content: string }[] };
    expect(body.messages.at(-1)?.content).toBe('A prompt from a pipe');
    expect(result.stdout).toMatch(/A prompt from a pipe/);
  });

  it('--json prints only NDJSON frames on stdout, ending with done', async () => {
    const result = await runCli(['chat', 'Hello', '--json', '--url', url]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    const frames = lines.map((line) => JSON.parse(line) as { id: number; event: string; data: object });
    expect(frames.map((frame) => frame.id)).toEqual(frames.map((_, index) => index + 1));
    expect(frames.every((frame) => Object.keys(frame).join() === 'id,event,data')).toBe(true);
    expect(frames[0]?.event).toBe('start');
    expect(frames.at(-1)).toMatchObject({ event: 'done', data: { finish_reason: 'stop' } });
    expect(result.stdout.endsWith('\n')).toBe(true);
    expect(result.stderr).toBe('');
  });

  it('shows tool calls on stderr as they start, and exits 0 on finish tool_calls', async () => {
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }];
    const result = await runCli([
      'chat',
      'Weather in Paris?',
      '--tools',
      JSON.stringify(tools),
      '--url',
      url,
    ]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/tool call #0: get_weather \(\S+\)\n {2}get_weather\(\{.*\}\)\n/);
    expect(result.stderr).toMatch(/finish tool_calls/);
    expect(result.stdout).toBe('');
  });

  it('exits 1 when the stream ends with an error frame', async () => {
    emulatorOf(gateway).enqueue('openai', { fault: { type: 'content_filter', afterChunks: 3 } });
    const result = await runCli(['chat', 'Hello', '--url', url]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/error: content_filter/);
    expect(result.stderr).toMatch(/finish content_filter/);
  });

  it('exits 3 when the gateway is not reachable', async () => {
    const dead = `http://127.0.0.1:${await closedPort()}`;
    const result = await runCli(['chat', 'Hello', '--url', dead]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(
      `is the gateway running at ${dead}? start one with \`sluice serve --demo\``,
    );
    expect(result.stderr).not.toContain('npm start');
    expect(result.stdout).toBe('');
  });

  it('exits 4 with the message and field when the gateway refuses the request', async () => {
    const provider = await runCli(['chat', 'Hello', '--provider', 'nope', '--url', url]);
    expect(provider.code).toBe(4);
    expect(provider.stderr).toMatch(/unknown provider "nope".*\(field: provider\) \[400 unknown_provider\]/);

    const temperature = await runCli(['chat', 'Hello', '--temperature', '5', '--url', url]);
    expect(temperature.code).toBe(4);
    expect(temperature.stderr).toMatch(/temperature must be between 0 and 2 \(field: temperature\)/);
  });

  it('exits 2 on usage errors', async () => {
    for (const args of [
      ['chat'],
      ['chat', 'Hello', '--bogus'],
      ['chat', 'Hello', '--temperature', 'warm'],
      ['chat', 'Hello', '--url', 'ftp://x'],
      ['chat', 'Hello', '--no-thinking', '--thinking-budget', '10'],
      ['nonsense'],
    ]) {
      const result = await runCli(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(/sluice/);
    }
  });

  it.runIf(hasScript())('dims reasoning on a terminal, and only there', async () => {
    // `script` gives the CLI a pseudo-terminal for stdout and stderr, as an interactive shell would.
    const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} chat Think --provider anthropic --thinking-budget 2048 --max-tokens 4096 --url ${url}`;
    const onTerminal = await completion(
      spawn('script', ['-qec', command, '/dev/null'], { env: { ...process.env, NO_COLOR: '' } }),
    );
    expect(onTerminal.code).toBe(0);
    const dim = (text: string): string => `\u001b[2m${text}\u001b[22m`;
    // The label, then the first piece of reasoning, both dimmed.
    expect(onTerminal.stdout).toContain(`${dim('thinking: ')}\u001b[2m`);

    const noColor = await completion(
      spawn('script', ['-qec', command, '/dev/null'], { env: { ...process.env, NO_COLOR: '1' } }),
    );
    expect(noColor.stdout).toMatch(/thinking: \S/);
    expect(noColor.stdout).not.toContain('\u001b[');

    // Not a terminal: the label is there, the escape codes are not.
    const piped = await runCli([
      'chat',
      'Think',
      '--provider',
      'anthropic',
      '--thinking-budget',
      '2048',
      '--max-tokens',
      '4096',
      '--url',
      url,
    ]);
    expect(piped.stderr).toMatch(/^thinking: \S.*\n/);
    expect(piped.stderr).not.toContain('\u001b[');
    expect(piped.stdout).not.toMatch(/thinking/);
  });

  it('Ctrl-C mid-stream cancels upstream and exits 130', async () => {
    const emulator = emulatorOf(gateway);
    emulator.enqueue('openai', { chunkDelayMs: 200, chunks: 100 });
    const child = spawnCli(['chat', 'Tell me a long story', '--url', url]);
    const exited = completion(child, 10_000);
    await new Promise<void>((resolve) => child.stdout?.once('data', () => resolve()));
    const before = emulator.stats('openai').closedByClient;
    const sentAt = Date.now();
    child.kill('SIGINT');
    const result = await exited;

    expect(result.code).toBe(130);
    expect(Date.now() - sentAt).toBeLessThan(5000);
    expect(result.stderr).toMatch(/interrupted: the generation was cancelled/);
    expect(await waitFor(() => emulator.stats('openai').closedByClient > before, 3000)).toBe(true);
    // Far fewer than the 100 scripted pieces reached the terminal.
    expect(result.stdout.split(' ').length).toBeLessThan(20);
  });
});
