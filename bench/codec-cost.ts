import { performance } from 'node:perf_hooks';
import { answerPieces } from '../src/emulators/content.js';
import { dialectFor } from '../src/emulators/dialects.js';
import type { EmulatedRequest, ResponseContext } from '../src/emulators/types.js';
import { sseEncoder } from '../src/faces/sse.js';
import { FrameEmitter } from '../src/generation/emitter.js';
import { FrameLog } from '../src/generation/log.js';
import { createFramePipeline, createPartStream } from '../src/generation/pipeline.js';
import type { Frame } from '../src/protocol/frames.js';
import { parseChatRequest } from '../src/protocol/request.js';
import type { ProviderDefinition } from '../src/providers/types.js';

/**
 * In-process cost of one provider's stream, per answer chunk: the provider's own emulator
 * dialect writes a realistic stream (the request it answers is the one the gateway would send),
 * and we time the wire parser and codec over it, then the whole in-process pipeline of the
 * gateway (parser, codec, frame emitter, SSE encoding into the log, the writer's read).
 */
export interface CodecCost {
  provider: string;
  framing: string;
  chunks: number;
  bytes: number;
  /** Text parts the codec produced (should equal `chunks`). */
  textParts: number;
  /** Wire parser + codec, best run, ns per chunk. */
  codecNs: number;
  /** Parser + codec + emitter + log append (SSE encode) + writer read, best run, ns per chunk. */
  pipelineNs: number;
  error?: string;
}

function fallbackRequest(model: string): EmulatedRequest {
  return {
    model,
    prompt: 'Hello',
    tools: [],
    thinking: false,
    maxTokens: undefined,
    stream: true,
    flags: {},
  };
}

/** The bytes the provider's emulator sends for a plain answer of `chunks` pieces, one read per event. */
export function emulatedStream(provider: ProviderDefinition, chunks: number): Buffer[] {
  const dialect = dialectFor(provider.id);
  const parsed = parseChatRequest({
    provider: provider.id,
    messages: [{ role: 'user', content: 'Explain how a streaming gateway works.' }],
  });
  if (!parsed.ok) throw new Error(parsed.issue.message);
  const model = provider.defaultModel;
  const baseUrl = `http://127.0.0.1:9${dialect.mount}${dialect.baseSuffix}`;
  const upstream = provider.buildRequest(parsed.request, model, { apiKey: 'bench', baseUrl });
  const url = new URL(upstream.url);
  const route = dialect.route('POST', url.pathname.slice(dialect.mount.length));
  const emulated =
    route === undefined ? undefined : dialect.parseRequest(JSON.parse(upstream.body), route, url);
  const request = emulated === undefined || 'error' in emulated ? fallbackRequest(model) : emulated;
  const context: ResponseContext = {
    id: '5f1c3a9b7e2d4c6a8b0e1f2a',
    model: request.model,
    created: 1_700_000_000,
    request,
    state: {},
  };
  const events = [...dialect.begin(context)];
  let characters = 0;
  for (const piece of answerPieces(provider.id, request, chunks)) {
    characters += piece.length;
    events.push(...dialect.text(piece, context));
  }
  const outputTokens = Math.ceil(characters / 4);
  events.push(...dialect.finish('stop', { inputTokens: 12, outputTokens, thinkingTokens: 0 }, context));
  return events.map((event) => Buffer.from(event, 'utf8'));
}

function timeCodec(
  provider: ProviderDefinition,
  reads: readonly Buffer[],
): { ms: number; textParts: number } {
  const parts = createPartStream(provider);
  let textParts = 0;
  const started = performance.now();
  for (const read of reads) {
    for (const part of parts.push(read)) if (part.type === 'text') textParts++;
  }
  parts.end();
  return { ms: performance.now() - started, textParts };
}

/** The gateway's in-process path, as run.ts drives it: the frame pipeline, one log append per read, the SSE encoding a reader writes. */
function timePipeline(provider: ProviderDefinition, reads: readonly Buffer[]): number {
  const log = new FrameLog();
  const emitter = new FrameEmitter({ provider: provider.id, model: provider.defaultModel }, true, () =>
    performance.now(),
  );
  const pipeline = createFramePipeline(provider, emitter);
  const encoder = sseEncoder(1000);
  let cursor = 0;
  let written = 0;
  const started = performance.now();
  const consume = (frames: readonly Frame[]): void => {
    if (frames.length === 0) return;
    log.append(frames);
    written += encoder.encode(log, cursor + 1, log.lastId, cursor === 0).length;
    cursor = log.lastId;
  };
  for (const read of reads) consume(pipeline.push(read).frames);
  consume(pipeline.end().frames);
  const elapsed = performance.now() - started;
  if (written === 0) throw new Error('pipeline wrote nothing');
  return elapsed;
}

function best(run: () => number, minimumRuns: number, budgetMs: number): number {
  for (let index = 0; index < 3; index++) run(); // warm-up: let the JIT settle
  let fastest = Number.POSITIVE_INFINITY;
  const until = performance.now() + budgetMs;
  for (let index = 0; index < minimumRuns || (performance.now() < until && index < 200); index++) {
    fastest = Math.min(fastest, run());
  }
  return fastest;
}

export function measureCodecCost(provider: ProviderDefinition, chunks = 1000, budgetMs = 300): CodecCost {
  const base = { provider: provider.id, framing: provider.framing, chunks };
  try {
    const reads = emulatedStream(provider, chunks);
    const bytes = reads.reduce((sum, read) => sum + read.length, 0);
    const textParts = timeCodec(provider, reads).textParts;
    const codecMs = best(() => timeCodec(provider, reads).ms, 7, budgetMs);
    const pipelineMs = best(() => timePipeline(provider, reads), 7, budgetMs);
    return {
      ...base,
      bytes,
      textParts,
      codecNs: (codecMs * 1e6) / chunks,
      pipelineNs: (pipelineMs * 1e6) / chunks,
    };
  } catch (error) {
    return {
      ...base,
      bytes: 0,
      textParts: 0,
      codecNs: Number.NaN,
      pipelineNs: Number.NaN,
      error: error instanceof Error ? error.message : String(error),
    };
  }
}
