import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createParser } from 'eventsource-parser';
import { API_PATHS } from '../../src/protocol/http.js';
import {
  type ChatHistoryItem,
  loadRuntime,
  NODE_LLAMA_CPP_VERSION,
  runtimeInstalled,
} from '../../src/providers/local/runtime.js';
import { TINY_MODEL_FILE_NAME, writeTinyModel } from '../../src/providers/local/tiny-model.js';
import { BenchChild } from '../children.js';
import { log } from '../context.js';
import { median } from '../report.js';

/**
 * The local provider's cost: the tiny model (./src/providers/local/tiny-model.ts) answering the
 * same prompt greedily, so every run produces the same tokens, first straight through
 * node-llama-cpp in this process, then through a gateway process over HTTP and SSE, as a
 * client sees it. llama.cpp runs on one thread on both paths.
 */

export interface LocalPathResult {
  path: 'direct' | 'sluice';
  runs: number;
  tokens: number;
  /** From the start of the request to the first answer text, per run. */
  firstTokenMs: number[];
  /** Output tokens over the time from the first answer text to the end, per run. */
  tokensPerSecond: number[];
}

export type LocalCaseResult = { skipped: string } | { paths: LocalPathResult[]; note: string };

export function localSettings(quick: boolean): { runs: number; tokens: number } {
  return { runs: quick ? 5 : 15, tokens: quick ? 200 : 400 };
}

const PROMPT = 'Tell me about streaming.';

/** Straight through node-llama-cpp, as an application embedding it would call it. */
async function direct(modelPath: string, runs: number, tokens: number): Promise<LocalPathResult> {
  const runtime = await loadRuntime();
  const model = await runtime.llama.loadModel({ modelPath, gpuLayers: 0 });
  const context = await model.createContext({ sequences: 1, contextSize: { max: 4096 }, threads: 1 });
  const chat = new runtime.module.LlamaChat({ contextSequence: context.getSequence() });
  const result: LocalPathResult = { path: 'direct', runs, tokens, firstTokenMs: [], tokensPerSecond: [] };
  try {
    const history = (): ChatHistoryItem[] => [
      { type: 'user', text: PROMPT },
      { type: 'model', response: [] },
    ];
    for (let run = 0; run <= runs; run++) {
      const meter = chat.sequence.tokenMeter;
      const before = meter.usedOutputTokens;
      const started = performance.now();
      let first: number | undefined;
      await chat.generateResponse(history(), {
        temperature: 0,
        maxTokens: tokens,
        onResponseChunk: () => {
          first ??= performance.now();
        },
      });
      const ended = performance.now();
      // Run 0 warms the model up (memory maps, caches) and is not counted.
      if (run === 0 || first === undefined) continue;
      result.firstTokenMs.push(first - started);
      result.tokensPerSecond.push(((meter.usedOutputTokens - before) * 1000) / (ended - first));
    }
  } finally {
    chat.dispose({ disposeSequence: true });
    await context.dispose();
    await model.dispose();
  }
  return result;
}

/** One streamed request through the gateway: when its first chunk came, when it ended, its tokens. */
async function streamOnce(
  url: string,
  tokens: number,
): Promise<{ started: number; first: number; ended: number; output: number }> {
  const started = performance.now();
  const response = await fetch(`${url}${API_PATHS.stream}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      provider: 'local',
      messages: [{ role: 'user', content: PROMPT }],
      temperature: 0,
      max_tokens: tokens,
    }),
  });
  let first: number | undefined;
  let output = 0;
  const parser = createParser({
    onEvent(message) {
      if (message.event === 'chunk') first ??= performance.now();
      if (message.event === 'done') {
        output = (JSON.parse(message.data) as { usage: { output_tokens: number } }).usage.output_tokens;
      }
    },
  });
  const decoder = new TextDecoder();
  for await (const piece of response.body as unknown as AsyncIterable<Uint8Array>) {
    parser.feed(decoder.decode(piece, { stream: true }));
  }
  const ended = performance.now();
  if (first === undefined || output === 0) throw new Error('the gateway streamed no answer');
  return { started, first, ended, output };
}

/** Through `sluice serve`'s own startGateway, in a process of its own, as a client sees it. */
async function throughGateway(modelPath: string, runs: number, tokens: number): Promise<LocalPathResult> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SLUICE_DEMO: '0',
    SLUICE_LOCAL_MODEL: modelPath,
    SLUICE_LOCAL_THREADS: '1',
  };
  delete env.REDIS_URL;
  const gateway = new BenchChild({ role: 'gateway', cpu: undefined, env });
  const result: LocalPathResult = { path: 'sluice', runs, tokens, firstTokenMs: [], tokensPerSecond: [] };
  try {
    const url = await gateway.url;
    for (let run = 0; run <= runs; run++) {
      const sample = await streamOnce(url, tokens);
      // Run 0 loads the model and is not counted.
      if (run === 0) continue;
      result.firstTokenMs.push(sample.first - sample.started);
      result.tokensPerSecond.push((sample.output * 1000) / (sample.ended - sample.first));
    }
  } finally {
    await gateway.stop();
  }
  return result;
}

export async function localCase(quick: boolean): Promise<LocalCaseResult> {
  if (!runtimeInstalled()) {
    const skipped = 'node-llama-cpp is not installed (bash scripts/ensure-local-model-runtime.sh)';
    log(`local model case skipped: ${skipped}`);
    return { skipped };
  }
  const { runs, tokens } = localSettings(quick);
  const folder = mkdtempSync(join(tmpdir(), 'sluice-bench-local-'));
  try {
    const modelPath = join(folder, TINY_MODEL_FILE_NAME);
    await writeTinyModel(modelPath);
    log(`local model case: ${runs} runs of ${tokens} tokens, direct, then through the gateway...`);
    const directResult = await direct(modelPath, runs, tokens);
    const gatewayResult = await throughGateway(modelPath, runs, tokens);
    return {
      paths: [directResult, gatewayResult],
      note:
        `node-llama-cpp ${NODE_LLAMA_CPP_VERSION}, CPU build, 1 thread; ${TINY_MODEL_FILE_NAME} (random weights, ` +
        `greedy: the same ${tokens} tokens every run); ${runs} runs per path after one unmeasured run`,
    };
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

/** The case as a Markdown section. */
export function renderLocal(result: LocalCaseResult): string {
  const title = '### Local model in process (provider `local`)\n\n';
  if ('skipped' in result) return `${title}Skipped: ${result.skipped}.\n`;
  const rows = result.paths.map((path) => {
    const name = path.path === 'direct' ? 'direct (node-llama-cpp in process)' : 'through Sluice (HTTP, SSE)';
    const ttft = path.firstTokenMs;
    const speed = path.tokensPerSecond;
    return (
      `| ${name} | ${median(ttft).toFixed(1)} (${Math.min(...ttft).toFixed(1)}-${Math.max(...ttft).toFixed(1)}) ` +
      `| ${median(speed).toFixed(0)} (${Math.min(...speed).toFixed(0)}-${Math.max(...speed).toFixed(0)}) |`
    );
  });
  return (
    `${title}${result.note}.\n\n` +
    '| path | first token, ms: median (min-max) | tokens per second: median (min-max) |\n' +
    '| --- | --- | --- |\n' +
    `${rows.join('\n')}\n`
  );
}
