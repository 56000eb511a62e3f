import type { IncomingHttpHeaders } from 'node:http';
import type {
  EmulatedFinish,
  EmulatedRefusal,
  EmulatedRequest,
  EmulatedToolCall,
  EmulatorDialect,
  MidstreamErrorKind,
  ResponseContext,
} from '../../emulators/types.js';
import { CONTINUE_INSTRUCTION } from '../continuation.js';
import { openAiOutputLimit } from './models.js';

/**
 * Chat Completions as OpenAI streams it (docs/wire.md §1): `data: <compact json>\n\n` per chunk,
 * a role-only first delta, `usage: null` on every chunk when include_usage is on, a finish
 * chunk with an empty delta, a `choices: []` usage chunk, then `data: [DONE]`.
 */

interface OpenAiBody {
  model?: unknown;
  messages?: { role?: unknown; content?: unknown }[];
  tools?: { function?: { name?: unknown; parameters?: unknown } }[];
  stream?: unknown;
  stream_options?: { include_usage?: unknown };
  max_tokens?: unknown;
  max_completion_tokens?: unknown;
}

type ChatMessageBody = { role?: unknown; content?: unknown };

/** The text of a Chat Completions message: a string, or the text of its parts. */
function messageText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part) => (typeof part === 'object' && part !== null && 'text' in part ? String(part.text) : ''))
      .join('');
  }
  return '';
}

export function lastUserText(messages: ChatMessageBody[] | undefined): string {
  const user = [...(messages ?? [])].reverse().find((message) => message.role === 'user');
  return messageText(user?.content);
}

/**
 * A Chat Completions conversation that carries on a cut-off answer, and the question it answers:
 * the partial answer as the last assistant turn, then (`instruction`) the user turn asking to
 * continue it, or nothing after it (`prefill`, for APIs that continue a final assistant turn).
 */
export function chatContinuation(
  messages: ChatMessageBody[],
  style: 'prefill' | 'instruction',
): Pick<EmulatedRequest, 'prompt' | 'continuation'> | undefined {
  const assistantAt = style === 'prefill' ? messages.length - 1 : messages.length - 2;
  const assistant = messages[assistantAt];
  if (assistant?.role !== 'assistant') return undefined;
  if (style === 'instruction') {
    const ask = messages.at(-1);
    if (ask?.role !== 'user' || messageText(ask.content) !== CONTINUE_INSTRUCTION) return undefined;
  }
  const partial = messageText(assistant.content);
  if (partial.length === 0) return undefined;
  return {
    prompt: lastUserText(messages.slice(0, assistantAt)),
    continuation: { partial, style },
  };
}

/** What a Chat Completions host refuses before it streams, beyond a missing model or messages. */
export type ChatCompletionsRefusal = (request: EmulatedRequest) => EmulatedRefusal | undefined;

/**
 * OpenAI's own refusals: no message at all, and a token budget past what the model writes
 * ("max_tokens is too large", whichever of the two fields carried it).
 */
export function openAiRefusal(request: EmulatedRequest): EmulatedRefusal | undefined {
  if (request.flags.messageCount === 0) {
    return {
      error:
        "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      param: 'messages',
      code: 'empty_array',
    };
  }
  const limit = openAiOutputLimit(request.model);
  const maxTokens = request.maxTokens;
  if (limit !== undefined && maxTokens !== undefined && maxTokens > limit) {
    return {
      error: `max_tokens is too large: ${maxTokens}. This model supports at most ${limit} completion tokens, whereas you provided ${maxTokens}.`,
      param: 'max_tokens',
      code: 'invalid_value',
    };
  }
  return undefined;
}

export function parseOpenAiRequest(
  body: unknown,
  refuse: ChatCompletionsRefusal = openAiRefusal,
): EmulatedRequest | EmulatedRefusal {
  const request = (typeof body === 'object' && body !== null ? body : {}) as OpenAiBody;
  if (typeof request.model !== 'string' || !Array.isArray(request.messages)) {
    return { error: 'model and messages are required' };
  }
  const maxTokens = request.max_completion_tokens ?? request.max_tokens;
  const continued = chatContinuation(request.messages, 'instruction');
  const parsed: EmulatedRequest = {
    model: request.model,
    prompt: continued?.prompt ?? lastUserText(request.messages),
    ...(continued?.continuation !== undefined ? { continuation: continued.continuation } : {}),
    tools: (request.tools ?? []).map((tool) => ({
      name: String(tool.function?.name ?? 'tool'),
      parameters: tool.function?.parameters,
    })),
    thinking: false,
    maxTokens: typeof maxTokens === 'number' ? maxTokens : undefined,
    stream: request.stream === true,
    flags: {
      includeUsage: request.stream_options?.include_usage === true,
      messageCount: request.messages.length,
    },
  };
  return refuse(parsed) ?? parsed;
}

function includeUsage(context: ResponseContext): boolean {
  return context.request.flags.includeUsage === true;
}

const ERROR_TYPES: Record<number, { type: string; code: string | null; message: string }> = {
  400: { type: 'invalid_request_error', code: null, message: 'Invalid request.' },
  401: {
    type: 'invalid_request_error',
    code: 'invalid_api_key',
    message:
      'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.',
  },
  403: { type: 'invalid_request_error', code: 'unsupported_country_region_territory', message: 'Forbidden.' },
  404: { type: 'invalid_request_error', code: 'model_not_found', message: 'The model does not exist.' },
  429: {
    type: 'requests',
    code: 'rate_limit_exceeded',
    message: 'Rate limit reached for requests. Please try again in 1s.',
  },
};

export function openAiHttpError(
  status: number,
  refusal?: EmulatedRefusal,
): { headers: Record<string, string>; body: string } {
  const known = ERROR_TYPES[status] ?? {
    type: 'server_error',
    code: null,
    message: 'The server had an error while processing your request. Sorry about that!',
  };
  const error =
    refusal === undefined
      ? { message: known.message, type: known.type, param: null, code: known.code }
      : {
          message: refusal.error,
          type: 'invalid_request_error',
          param: refusal.param ?? null,
          code: refusal.code ?? null,
        };
  return {
    headers: { 'x-request-id': `req_${Math.random().toString(16).slice(2, 18)}` },
    body: JSON.stringify({ error }, null, 2),
  };
}

export function openAiMidstreamError(kind: MidstreamErrorKind): string[] {
  const message =
    kind === 'capacity'
      ? 'Model is at capacity'
      : kind === 'overloaded'
        ? 'The server is overloaded. Please try again later.'
        : 'The server had an error while processing your request. Sorry about that!';
  return [
    `data: ${JSON.stringify({ error: { message, type: 'server_error', param: null, code: null } })}\n\n`,
  ];
}

/**
 * The HTTP side that every Chat Completions-compatible dialect shares: route, auth, request;
 * `refuse` holds what the host refuses before it streams.
 */
export function chatCompletionsEndpoint(
  provider: string,
  refuse: ChatCompletionsRefusal,
): Pick<
  EmulatorDialect,
  'provider' | 'mount' | 'baseSuffix' | 'contentType' | 'route' | 'authorized' | 'parseRequest'
> {
  return {
    provider,
    mount: `/${provider}`,
    baseSuffix: '/v1',
    contentType: 'text/event-stream; charset=utf-8',
    route(method, path) {
      return method === 'POST' && path === '/v1/chat/completions' ? {} : undefined;
    },
    authorized(headers: IncomingHttpHeaders) {
      return /^Bearer \S+/.test(headers.authorization ?? '');
    },
    parseRequest(body) {
      return parseOpenAiRequest(body, refuse);
    },
  };
}

export function createOpenAiDialect(): EmulatorDialect {
  const chunk = (
    context: ResponseContext,
    choices: unknown[],
    extra: Record<string, unknown> = {},
  ): string => {
    const payload: Record<string, unknown> = {
      id: `chatcmpl-${context.id}`,
      object: 'chat.completion.chunk',
      created: context.created,
      model: context.model,
      service_tier: 'default',
      system_fingerprint: 'fp_sluice_emu',
      choices,
    };
    if (includeUsage(context)) payload.usage = null;
    Object.assign(payload, extra);
    return `data: ${JSON.stringify(payload)}\n\n`;
  };
  const delta = (content: Record<string, unknown>, finish: string | null = null) => ({
    index: 0,
    delta: content,
    logprobs: null,
    finish_reason: finish,
  });

  return {
    ...chatCompletionsEndpoint('openai', openAiRefusal),
    begin(context) {
      return [chunk(context, [delta({ role: 'assistant', content: '', refusal: null })])];
    },
    thinking() {
      return [];
    },
    text(text, context) {
      return [chunk(context, [delta({ content: text })])];
    },
    toolCall(call: EmulatedToolCall, index, context) {
      const events = [
        chunk(context, [
          delta({
            tool_calls: [
              { index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } },
            ],
          }),
        ]),
      ];
      // Fixed-size fragments keep every byte and split inside keys and values, as OpenAI does.
      for (const fragment of call.arguments.match(/.{1,6}/gsu) ?? []) {
        events.push(chunk(context, [delta({ tool_calls: [{ index, function: { arguments: fragment } }] })]));
      }
      return events;
    },
    finish(reason: EmulatedFinish, usage, context) {
      const events = [chunk(context, [delta({}, reason)])];
      if (includeUsage(context)) {
        events.push(
          chunk(context, [], {
            usage: {
              prompt_tokens: usage.inputTokens,
              completion_tokens: usage.outputTokens,
              total_tokens: usage.inputTokens + usage.outputTokens,
              prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
              completion_tokens_details: {
                reasoning_tokens: usage.thinkingTokens,
                audio_tokens: 0,
                accepted_prediction_tokens: 0,
                rejected_prediction_tokens: 0,
              },
            },
          }),
        );
      }
      events.push('data: [DONE]\n\n');
      return events;
    },
    midstreamError(kind) {
      return openAiMidstreamError(kind);
    },
    httpError(status, _context, refusal) {
      return openAiHttpError(status, refusal);
    },
    malformed(context) {
      return `data: {"id":"chatcmpl-${context.id}","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"unterminated\n\n`;
    },
  };
}
