import type { ChatRequest } from '../protocol/request.js';
import type { ContinuationStyle } from './types.js';

/**
 * The user turn that asks a model to carry on an answer it was cut off in, for providers whose
 * API cannot continue a final assistant turn by itself. The emulators recognize it.
 */
export const CONTINUE_INSTRUCTION =
  'Your previous answer was cut off. Continue it exactly where it stopped: do not repeat what you already wrote, add no preamble, and keep the same format.';

/**
 * The request that continues `partial`, the answer text already sent, with the same provider:
 * the original messages, then the partial answer as an assistant turn, which the provider
 * continues itself (`prefill`) or is asked to continue by a user turn (`instruction`).
 */
export function continuationRequest(
  request: ChatRequest,
  partial: string,
  style: ContinuationStyle,
): ChatRequest {
  if (style === 'instruction') {
    return {
      ...request,
      messages: [
        ...request.messages,
        { role: 'assistant', content: partial },
        { role: 'user', content: CONTINUE_INSTRUCTION },
      ],
    };
  }
  // Anthropic refuses a final assistant turn that ends in whitespace, and extended thinking
  // with a prefill; the answer is past its reasoning anyway.
  const prefill = partial.trimEnd();
  return {
    ...request,
    thinking_budget: 0,
    messages:
      prefill.length > 0 ? [...request.messages, { role: 'assistant', content: prefill }] : request.messages,
  };
}
