import { performance } from 'node:perf_hooks';
import type { Usage } from '../protocol/frames.js';
import type { ChatMessage } from '../protocol/request.js';
import type { UsageCounts } from '../providers/types.js';

export type Encoder = (text: string) => number[];
let encoder: Promise<Encoder> | undefined;
let loadedEncoder: Encoder | undefined;

/**
 * cl100k_base as the approximation for providers that report no counts. Loading it takes a
 * while (a large table), so the gateway calls this at start, off any request's path.
 */
export function loadTokenizer(): Promise<Encoder> {
  encoder ??= import('gpt-tokenizer/encoding/cl100k_base').then((module) => {
    loadedEncoder = module.encode;
    return module.encode;
  });
  return encoder;
}

/** The tokenizer if it has loaded, for counts that cannot wait (a live count per frame). */
export function loadedTokenizer(): Encoder | undefined {
  return loadedEncoder;
}

/**
 * Longest piece handed to the tokenizer at once. BPE merges within a run of text cost about
 * the square of the run's length (100,000 characters without whitespace took seconds), so long
 * runs are cut; cut at whitespace where there is some, the count hardly changes.
 */
export const SEGMENT_CHARS = 256;
/** Characters counted exactly per generation; the rest is extrapolated from the ratio so far. */
const EXACT_CHARS = 256 * 1024;
/** Main-thread time one count may take before it yields to other streams. */
const SLICE_MS = 4;

function isSpace(code: number): boolean {
  return code === 32 || (code >= 9 && code <= 13);
}

/** Where the piece starting at `start` ends: at a space near the bound, never inside a surrogate pair. */
export function segmentEnd(text: string, start: number, limit: number): number {
  let end = Math.min(start + SEGMENT_CHARS, limit);
  if (end === limit) return end;
  for (let index = end; index > start + SEGMENT_CHARS / 2; index--) {
    if (isSpace(text.charCodeAt(index - 1))) return index;
  }
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return end;
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Counts tokens in bounded time: text is tokenized in short pieces, at most `EXACT_CHARS` of it
 * (beyond that the count is extrapolated), yielding to the event loop every few milliseconds,
 * so a count never stalls the streams that share the process.
 */
export class TokenCounter {
  private exactLeft = EXACT_CHARS;
  private sliceStartedAt = performance.now();
  private countedChars = 0;
  private countedTokens = 0;

  async count(text: string): Promise<number> {
    if (text.length === 0) return 0;
    const encode = await loadTokenizer();
    const exactLength = Math.min(text.length, this.exactLeft);
    let tokens = 0;
    for (let start = 0; start < exactLength; ) {
      const end = segmentEnd(text, start, exactLength);
      tokens += encode(text.slice(start, end)).length;
      start = end;
      if (performance.now() - this.sliceStartedAt > SLICE_MS) {
        await yieldToLoop();
        this.sliceStartedAt = performance.now();
      }
    }
    this.exactLeft -= exactLength;
    this.countedChars += exactLength;
    this.countedTokens += tokens;
    const rest = text.length - exactLength;
    if (rest > 0) {
      const ratio = this.countedChars > 0 ? this.countedTokens / this.countedChars : 0.25;
      tokens += Math.ceil(rest * ratio);
    }
    return tokens;
  }
}

/** Chat-format overhead per message, as OpenAI's cookbook counts it. */
const TOKENS_PER_MESSAGE = 4;

async function countMessageTokens(counter: TokenCounter, messages: readonly ChatMessage[]): Promise<number> {
  let total = 3;
  for (const message of messages) {
    total += TOKENS_PER_MESSAGE + (await counter.count(message.content ?? ''));
    for (const call of message.tool_calls ?? []) {
      total += await counter.count(call.function.name + call.function.arguments);
    }
  }
  return total;
}

/** The `usage` of `done` from the provider's counts alone (0 where it gave none), marked estimated. */
export function reportedUsage(reported: Partial<UsageCounts>): Usage {
  const input = reported.inputTokens ?? 0;
  const output = reported.outputTokens ?? 0;
  return {
    input_tokens: input,
    output_tokens: output,
    thinking_tokens: reported.thinkingTokens ?? null,
    total_tokens: input + output,
    estimated: true,
  };
}

/**
 * The `usage` of `done`: the provider's counts where it gave them, a tokenizer's count where
 * it did not (`estimated: true`). Thinking tokens are part of the output count.
 */
export async function finalizeUsage(
  reported: Partial<UsageCounts>,
  messages: readonly ChatMessage[],
  outputText: string,
): Promise<Usage> {
  const counter = new TokenCounter();
  let estimated = false;
  let inputTokens = reported.inputTokens;
  if (inputTokens === undefined) {
    inputTokens = await countMessageTokens(counter, messages);
    estimated = true;
  }
  let outputTokens = reported.outputTokens;
  if (outputTokens === undefined) {
    outputTokens = await counter.count(outputText);
    estimated = true;
  }
  return {
    input_tokens: inputTokens,
    output_tokens: outputTokens,
    thinking_tokens: reported.thinkingTokens ?? null,
    total_tokens: inputTokens + outputTokens,
    estimated,
  };
}
