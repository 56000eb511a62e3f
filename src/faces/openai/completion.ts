import type { GenerationResult } from '../../protocol/http.js';
import { type CompletionIdentity, openAiFinishReason, openAiUsage } from './chunks.js';
import { failureStatus, type OpenAiErrorBody, openAiFailure } from './errors.js';

/**
 * A finished generation as one `chat.completion` (`stream: false`), or the error OpenAI would
 * answer instead: a generation that failed, even after some text, is an error, never a 200 that
 * looks finished. A moderation stop is a 200 with `finish_reason: "content_filter"`, as on
 * OpenAI's API.
 */
export function completionAnswer(
  identity: CompletionIdentity,
  result: GenerationResult,
): { status: number; body: Record<string, unknown> | OpenAiErrorBody } {
  const finish = result.finish_reason ?? 'error';
  if (finish === 'cancelled') {
    return {
      status: failureStatus('cancelled'),
      body: openAiFailure('cancelled', 'the generation was cancelled'),
    };
  }
  if (finish === 'error') {
    const code = result.error?.code ?? 'internal';
    return {
      status: failureStatus(code),
      body: openAiFailure(code, result.error?.message ?? 'the generation failed'),
    };
  }
  const message: Record<string, unknown> = {
    role: 'assistant',
    content: result.text.length === 0 && result.tool_calls.length > 0 ? null : result.text,
    refusal: null,
  };
  if (result.thinking.length > 0) message.reasoning_content = result.thinking;
  if (result.tool_calls.length > 0) {
    message.tool_calls = result.tool_calls.map((call) => ({
      id: call.id,
      type: 'function',
      function: { name: call.name, arguments: call.arguments },
    }));
  }
  const body: Record<string, unknown> = {
    id: identity.id,
    object: 'chat.completion',
    created: identity.created,
    model: identity.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: openAiFinishReason(finish) }],
  };
  if (result.usage !== null) body.usage = openAiUsage(result.usage);
  return { status: 200, body };
}
