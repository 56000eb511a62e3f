import { roughTokens } from '../../emulators/content.js';
import type {
  EmulatedFinish,
  EmulatedRefusal,
  EmulatedRequest,
  EmulatedToolCall,
  EmulatorDialect,
  ResponseContext,
} from '../../emulators/types.js';
import { chatCompletionsEndpoint, openAiMidstreamError } from '../openai/emulator.js';
import { togetherContextWindow } from './models.js';

/**
 * Together's Chat Completions stream (docs/wire.md §4, from a real chunk pair in
 * lzell/AIProxySwift): id `<16 hex>-SJC`, no `system_fingerprint`, `choices[].text` repeating
 * `delta.content`, `delta.token_id`, `delta.role` on every chunk, explicit `tool_calls: null`,
 * `seed` null until the last chunk, `finish_reason: "eos"` with `usage` on that same chunk (no
 * separate usage chunk), then `data: [DONE]`. Key order follows the captured chunks.
 */

/** Llama 3 `<|eot_id|>`, the token id of the real finish chunk. */
const EOT_TOKEN_ID = 128009;

/** A stable token id for a piece of text, so the same request gives the same bytes. */
function tokenIdOf(text: string): number {
  let hash = 0;
  for (let index = 0; index < text.length; index++)
    hash = (Math.imul(hash, 31) + text.charCodeAt(index)) >>> 0;
  return hash % 128000;
}

/** Together's finish words: a natural end is `eos`, and it has no moderation stop of its own. */
function togetherFinishReason(reason: EmulatedFinish): string {
  switch (reason) {
    case 'length':
      return 'length';
    case 'tool_calls':
      return 'tool_calls';
    case 'stop':
    case 'content_filter':
      return 'eos';
    default: {
      const exhaustive: never = reason;
      throw new Error(`unknown finish ${String(exhaustive)}`);
    }
  }
}

const HTTP_ERRORS: Record<number, { message: string; type: string; code: string | null }> = {
  400: { message: 'Input validation error', type: 'invalid_request_error', code: null },
  // Verbatim from a real 401 (harshitv804/LawGPT#4).
  401: {
    message:
      'Invalid API key provided. You can find your API key at https://api.together.xyz/settings/api-keys.',
    type: 'invalid_request_error',
    code: 'invalid_api_key',
  },
  404: {
    message:
      'Unable to access model. Please visit https://api.together.ai/models to view the list of supported models.',
    type: 'invalid_request_error',
    code: 'model_not_available',
  },
  429: {
    message: 'You have exceeded the rate limit for this model. Please try again later.',
    type: 'rate_limit_error',
    code: 'rate_limit_exceeded',
  },
  503: { message: 'The server is overloaded or not ready yet.', type: 'server_error', code: null },
};

/**
 * Together's serving layer refuses a prompt plus `max_tokens` past the model's context window
 * (text-generation-inference's wording, which Together passes on).
 */
function togetherRefusal(request: EmulatedRequest): EmulatedRefusal | undefined {
  const window = togetherContextWindow(request.model);
  const maxTokens = request.maxTokens;
  if (window === undefined || maxTokens === undefined) return undefined;
  // The emulator's rough count of the last user turn stands for the prompt's tokens.
  const inputs = roughTokens(request.prompt);
  if (inputs + maxTokens <= window) return undefined;
  return {
    error: `Input validation error: \`inputs\` tokens + \`max_new_tokens\` must be <= ${window}. Given: ${inputs} \`inputs\` tokens and ${maxTokens} \`max_new_tokens\``,
  };
}

export function createTogetherDialect(): EmulatorDialect {
  const chunk = (
    context: ResponseContext,
    text: string,
    delta: Record<string, unknown>,
    last?: { finishReason: string; usage: Record<string, number> },
  ): string => {
    const payload = {
      id: `${context.id.slice(0, 16)}-SJC`,
      object: 'chat.completion.chunk',
      created: context.created,
      choices: [
        {
          index: 0,
          text,
          logprobs: null,
          finish_reason: last?.finishReason ?? null,
          // Past 2^53 like the real one (2039908639335532000), which JSON readers must tolerate.
          seed: last === undefined ? null : 2039908639335532000 + tokenIdOf(context.id) * 4096,
          delta: { token_id: tokenIdOf(text), role: 'assistant', ...delta },
        },
      ],
      model: context.model,
      usage: last?.usage ?? null,
    };
    return `data: ${JSON.stringify(payload)}\n\n`;
  };

  return {
    ...chatCompletionsEndpoint('together', togetherRefusal),
    begin() {
      // Together's first chunk already carries the first token; there is no role-only chunk.
      return [];
    },
    thinking() {
      // Llama models do not reason.
      return [];
    },
    text(text, context) {
      return [chunk(context, text, { content: text, tool_calls: null })];
    },
    toolCall(call: EmulatedToolCall, index, context) {
      const events = [
        chunk(context, '', {
          token_id: tokenIdOf(call.name),
          content: null,
          tool_calls: [
            { index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } },
          ],
        }),
      ];
      // Token-sized fragments that keep every byte (a value like "New York" keeps its space).
      for (const fragment of call.arguments.match(/.{1,6}/gsu) ?? []) {
        events.push(
          chunk(context, '', {
            token_id: tokenIdOf(fragment),
            content: null,
            tool_calls: [{ index, function: { arguments: fragment } }],
          }),
        );
      }
      return events;
    },
    finish(reason, usage, context) {
      const finishChunk = chunk(
        context,
        '',
        { token_id: EOT_TOKEN_ID, content: '', tool_calls: null },
        {
          finishReason: togetherFinishReason(reason),
          usage: {
            prompt_tokens: usage.inputTokens,
            completion_tokens: usage.outputTokens,
            total_tokens: usage.inputTokens + usage.outputTokens,
          },
        },
      );
      return [finishChunk, 'data: [DONE]\n\n'];
    },
    midstreamError(kind) {
      // `capacity` gives `{"error": {"message": "Model is at capacity", "type": "server_error", ...}}`.
      return openAiMidstreamError(kind);
    },
    httpError(status, _context, refusal) {
      const known =
        refusal !== undefined
          ? { message: refusal.error, type: 'invalid_request_error', code: refusal.code ?? null }
          : (HTTP_ERRORS[status] ?? { message: 'Internal server error', type: 'server_error', code: null });
      return {
        headers: {},
        // Together pretty-prints its error bodies.
        body: JSON.stringify(
          { error: { message: known.message, type: known.type, param: null, code: known.code } },
          null,
          2,
        ),
      };
    },
    malformed(context) {
      return `data: {"id":"${context.id.slice(0, 16)}-SJC","object":"chat.completion.chunk","choices":[{"index":0,"text":"unterminated\n\n`;
    },
  };
}
