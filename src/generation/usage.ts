import type { Usage } from '../protocol/frames.js';
import type { ChatMessage } from '../protocol/request.js';
import type { UsageCounts } from '../providers/types.js';

type Encoder = (text: string) => number[];
let encoder: Promise<Encoder> | undefined;

/** cl100k_base as the approximation for providers that report no counts; loaded on first use. */
function loadEncoder(): Promise<Encoder> {
  encoder ??= import('gpt-tokenizer/encoding/cl100k_base').then((module) => module.encode);
  return encoder;
}

export async function countTokens(text: string): Promise<number> {
  if (text.length === 0) return 0;
  const encode = await loadEncoder();
  return encode(text).length;
}

/** Chat-format overhead per message, as OpenAI's cookbook counts it. */
const TOKENS_PER_MESSAGE = 4;

export async function countMessageTokens(messages: readonly ChatMessage[]): Promise<number> {
  let total = 3;
  for (const message of messages) {
    total += TOKENS_PER_MESSAGE + (await countTokens(message.content ?? ''));
    for (const call of message.tool_calls ?? []) {
      total += await countTokens(call.function.name + call.function.arguments);
    }
  }
  return total;
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
  let estimated = false;
  let inputTokens = reported.inputTokens;
  if (inputTokens === undefined) {
    inputTokens = await countMessageTokens(messages);
    estimated = true;
  }
  let outputTokens = reported.outputTokens;
  if (outputTokens === undefined) {
    outputTokens = await countTokens(outputText);
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
