import { performance } from 'node:perf_hooks';
import { estimateTokenCount } from 'tokenx';
import type { Usage } from '../protocol/frames.js';
import type { ChatMessage } from '../protocol/request.js';
import type { UsageCounts } from '../providers/types.js';

/** Tokens in a text, estimated. */
export type Counter = (text: string) => number;
const counter: Promise<Counter> = Promise.resolve(estimateTokenCount);

/** The estimator, synchronously (it needs no loading): for counts made as a stream goes. */
export function loadedTokenizer(): Counter {
  return estimateTokenCount;
}

/**
 * The count used where a provider reports none: tokenx, a small estimator (a few kB, no
 * vocabulary) standing in for a BPE tokenizer. Measured in src/generation/usage.test.ts: within
 * about 2% of cl100k_base and o200k_base on English prose and 7% on code; on Chinese, Japanese
 * and Korean within 5 to 17% of o200k_base, while cl100k_base spends 30 to 50% more tokens than
 * the estimate. Such counts are marked `estimated: true`.
 */
export function loadTokenizer(): Promise<Counter> {
  return counter;
}

/**
 * Longest piece handed to the estimator at once, cut at whitespace: a count yields to the event
 * loop between pieces, so even a megabyte of text never holds the process for long.
 */
export const SEGMENT_CHARS = 4096;
/** Characters counted per generation; the rest is extrapolated from the ratio so far. */
const EXACT_CHARS = 1024 * 1024;
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
 * Counts tokens in bounded time: text is estimated in pieces, at most `EXACT_CHARS` of it
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
    const estimate = await loadTokenizer();
    const exactLength = Math.min(text.length, this.exactLeft);
    let tokens = 0;
    for (let start = 0; start < exactLength; ) {
      const end = segmentEnd(text, start, exactLength);
      tokens += estimate(text.slice(start, end));
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
 * The `usage` of `done`: the provider's counts where it gave them, an estimate where it did not
 * (`estimated: true`). Thinking tokens are part of the output count.
 */
export async function finalizeUsage(
  reported: Partial<UsageCounts>,
  messages: readonly ChatMessage[],
  outputText: () => string,
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
    outputTokens = await counter.count(outputText());
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
