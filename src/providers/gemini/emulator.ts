import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { roughTokens } from '../../emulators/content.js';
import type {
  EmulatedFinish,
  EmulatedRefusal,
  EmulatedRequest,
  EmulatedToolCall,
  EmulatedUsage,
  EmulatorDialect,
  MidstreamErrorKind,
  ResponseContext,
} from '../../emulators/types.js';
import { CONTINUE_INSTRUCTION } from '../continuation.js';
import { GOOGLE_STATUS_HTTP } from './errors.js';
import { geminiOutputLimit, needsThoughtSignature } from './models.js';
import { SKIP_SIGNATURE } from './request.js';

/**
 * `models/{model}:streamGenerateContent?alt=sse` as Google streams it (docs/wire.md §3.2): one
 * `data:` line per chunk in Google's JSON style, `\r\n\r\n` after each, no `event:` or `id:`, no
 * end marker (the last chunk carries `finishReason`, then EOF). Thought summaries when the
 * request asks for them; function calls whole in one part.
 */

interface GeminiDialectOptions {
  /** `RetryInfo.retryDelay` in emulated 429 bodies. Google sends tens of seconds; tests want less. */
  retryDelay?: string;
}

/**
 * Google's JSON style, byte for byte: a space after `:`, none after `,`, no line breaks
 * (`{"text": "Hi","thought": true}`). A parser must not care; an emulator should not differ.
 */
export function googleJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(googleJson).join(',')}]`;
  const members = Object.entries(value)
    .filter(([, member]) => member !== undefined)
    .map(([key, member]) => `${JSON.stringify(key)}: ${googleJson(member)}`);
  return `{${members.join(',')}}`;
}

interface GeminiRequestBody {
  contents?: { role?: unknown; parts?: Record<string, unknown>[] }[];
  tools?: {
    functionDeclarations?: { name?: unknown; parameters?: unknown; parametersJsonSchema?: unknown }[];
  }[];
  generationConfig?: {
    maxOutputTokens?: unknown;
    thinkingConfig?: { includeThoughts?: unknown; thinkingBudget?: unknown };
  };
}

/** Gemini schemas may spell types in capitals (`STRING`); the engine's examples read lowercase. */
function lowercaseTypes(schema: unknown): unknown {
  const properties = (schema as { properties?: Record<string, unknown> } | null)?.properties;
  if (typeof properties !== 'object' || properties === null) return schema;
  const lowered: Record<string, unknown> = {};
  for (const [name, property] of Object.entries(properties)) {
    const type = (property as { type?: unknown } | null)?.type;
    lowered[name] =
      typeof type === 'string' ? { ...(property as object), type: type.toLowerCase() } : property;
  }
  return { ...(schema as object), properties: lowered };
}

/**
 * The key this process signs function calls with. Google's signatures are opaque; the emulator's
 * bind the call they came with, so a replayed call with another call's signature, or a made-up
 * one, is refused as Google refuses a damaged one.
 */
const SIGNING_KEY = randomBytes(32);

function signCall(name: string, args: unknown): string {
  return createHmac('sha256', SIGNING_KEY)
    .update(`${name}\u0000${JSON.stringify(args ?? {})}`)
    .digest('base64');
}

const SIGNATURES_DOCS = 'https://ai.google.dev/gemini-api/docs/thought-signatures';

/**
 * Gemini 3 checks the thought signatures of the current turn (the model turns after the last
 * user text): the first function call of each model turn must carry the signature it was sent
 * with, or Google's documented bypass value (docs/wire.md §3.3).
 */
function signatureRefusal(
  model: string,
  contents: readonly { role?: unknown; parts?: Record<string, unknown>[] }[],
): EmulatedRefusal | undefined {
  if (!needsThoughtSignature(model)) return undefined;
  const lastUserText = contents.findLastIndex(
    (content) =>
      content.role === 'user' && (content.parts ?? []).some((part) => typeof part?.text === 'string'),
  );
  for (const [index, content] of contents.entries()) {
    if (index < lastUserText || content.role !== 'model') continue;
    const call = (content.parts ?? []).find((part) => typeof part?.functionCall === 'object');
    if (call === undefined) continue;
    const { name, args } = call.functionCall as { name?: unknown; args?: unknown };
    const signature = call.thoughtSignature;
    if (typeof signature !== 'string' || signature.length === 0) {
      return {
        error: `Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call \`default_api:${String(name)}\` , position ${index + 1}. Please refer to ${SIGNATURES_DOCS} for more details.`,
      };
    }
    if (signature !== SKIP_SIGNATURE && signature !== signCall(String(name), args)) {
      return { error: 'Corrupted thought signature.' };
    }
  }
  return undefined;
}

/** The `Part.data` oneof: a part must carry one of these (an empty text does not count). */
const PART_DATA = [
  'inlineData',
  'fileData',
  'functionCall',
  'functionResponse',
  'executableCode',
  'codeExecutionResult',
];

/**
 * What `generateContent` refuses with 400 INVALID_ARGUMENT before it streams, in Google's words
 * (field violations are listed as `* <path>: <reason>\n`): no contents, a content without parts,
 * a part without data, and maxOutputTokens past the model's output limit.
 */
function geminiRefusal(model: string, request: GeminiRequestBody): EmulatedRefusal | undefined {
  const contents = Array.isArray(request.contents) ? request.contents : [];
  if (contents.length === 0)
    return { error: '* GenerateContentRequest.contents: contents is not specified\n' };
  for (const [index, content] of contents.entries()) {
    const parts = Array.isArray(content?.parts) ? content.parts : [];
    if (parts.length === 0) {
      return {
        error: `* GenerateContentRequest.contents[${index}].parts: contents.parts must not be empty.\n`,
      };
    }
    for (const [position, part] of parts.entries()) {
      const hasText = typeof part?.text === 'string' && part.text.length > 0;
      if (!hasText && !PART_DATA.some((key) => part?.[key] !== undefined)) {
        return {
          error: `* GenerateContentRequest.contents[${index}].parts[${position}].data: required oneof field 'data' must have one initialized field\n`,
        };
      }
    }
  }
  const unsigned = signatureRefusal(model, contents);
  if (unsigned !== undefined) return unsigned;
  const maxTokens = request.generationConfig?.maxOutputTokens;
  const limit = geminiOutputLimit(model);
  if (limit !== undefined && typeof maxTokens === 'number' && maxTokens > limit) {
    return {
      error: `Unable to submit request because it has a maxOutputTokens value of ${maxTokens} but the supported range is from 1 (inclusive) to ${limit + 1} (exclusive). Update the value and try again.`,
    };
  }
  return undefined;
}

export function parseGeminiRequest(
  body: unknown,
  model: string | undefined,
  url: URL,
): EmulatedRequest | EmulatedRefusal {
  const request = (typeof body === 'object' && body !== null ? body : {}) as GeminiRequestBody;
  if (model === undefined) return { error: 'model is required' };
  const refusal = geminiRefusal(model, request);
  if (refusal !== undefined) return refusal;
  const contents = request.contents ?? [];
  const textOf = (turn: { parts?: Record<string, unknown>[] } | undefined): string =>
    (turn?.parts ?? []).map((part) => (typeof part.text === 'string' ? part.text : '')).join('');
  // A cut-off answer as a model turn, then a user turn asking to carry it on.
  const asked = contents.at(-1);
  const partial = contents.at(-2);
  const continued =
    asked !== undefined &&
    asked.role !== 'model' &&
    textOf(asked) === CONTINUE_INSTRUCTION &&
    partial?.role === 'model' &&
    textOf(partial).length > 0;
  const asking = continued ? contents.slice(0, -2) : contents;
  const userTurns = asking.filter((turn) => turn.role === 'user' || turn.role === undefined);
  const prompt = [...userTurns]
    .reverse()
    .map((turn) => textOf(turn))
    .find((text) => text.length > 0);
  const thinking = request.generationConfig?.thinkingConfig;
  const maxTokens = request.generationConfig?.maxOutputTokens;
  const alt = url.searchParams.get('alt');
  return {
    model,
    prompt: prompt ?? '',
    ...(continued ? { continuation: { partial: textOf(partial), style: 'instruction' as const } } : {}),
    tools: (request.tools ?? []).flatMap((tool) =>
      (tool.functionDeclarations ?? []).map((declaration) => ({
        name: String(declaration.name ?? 'tool'),
        parameters: lowercaseTypes(declaration.parameters ?? declaration.parametersJsonSchema),
      })),
    ),
    thinking: thinking?.includeThoughts === true && thinking.thinkingBudget !== 0,
    maxTokens: typeof maxTokens === 'number' ? maxTokens : undefined,
    // Without `alt=sse` Google streams a JSON array; this emulator answers 400 instead.
    stream: alt === 'sse',
    flags: { alt },
  };
}

/** The canonical name Google puts beside each HTTP status (the first of `GOOGLE_STATUS_HTTP`). */
const STATUS_NAMES: Record<number, string> = {};
for (const [name, code] of Object.entries(GOOGLE_STATUS_HTTP)) STATUS_NAMES[code] ??= name;

const MESSAGES: Record<number, string> = {
  401: 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
  403: "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
  404: 'models/unknown is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.',
  429: 'You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.',
  500: 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
  503: 'The model is overloaded. Please try again later.',
};

/** A google.rpc.Status body, pretty-printed with two spaces as Google does. */
function geminiHttpError(
  status: number,
  context: ResponseContext,
  retryDelay = '1s',
  refusal?: EmulatedRefusal,
): { headers: Record<string, string>; body: string } {
  let message = refusal?.error ?? MESSAGES[status] ?? 'Request contains an invalid argument.';
  if (status === 400 && context.request.flags.alt !== undefined && context.request.flags.alt !== 'sse') {
    message = 'This emulator streams only with alt=sse; add ?alt=sse to the URL.';
  }
  if (status === 404) message = message.replace('unknown', context.model);
  const error: Record<string, unknown> = { code: status, message, status: STATUS_NAMES[status] ?? 'UNKNOWN' };
  if (status === 429) {
    error.details = [
      {
        '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
        violations: [
          {
            quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests',
            quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier',
            quotaDimensions: { location: 'global', model: context.model },
            quotaValue: '10',
          },
        ],
      },
      { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay },
    ];
  }
  return {
    headers: { 'content-type': 'application/json; charset=UTF-8' },
    body: `${JSON.stringify({ error }, null, 2)}\n`,
  };
}

/** The raw, pretty-printed error Gemini writes into a running stream, without `data:` (vercel/ai#5217). */
function geminiMidstreamError(kind: MidstreamErrorKind): string[] {
  const error =
    kind === 'overloaded'
      ? { code: 503, message: 'The model is overloaded. Please try again later.', status: 'UNAVAILABLE' }
      : kind === 'capacity'
        ? {
            code: 429,
            message: 'Resource has been exhausted (e.g. check quota).',
            status: 'RESOURCE_EXHAUSTED',
          }
        : { code: 500, message: MESSAGES[500] ?? 'Internal error.', status: 'INTERNAL' };
  return [`${JSON.stringify({ error }, null, 2)}\n`];
}

interface StreamState {
  responseId: string;
  answerChars: number;
  thinkingChars: number;
  toolCalls: number;
}

function stateOf(context: ResponseContext): StreamState {
  const existing = context.state.gemini as StreamState | undefined;
  if (existing !== undefined) return existing;
  const created: StreamState = {
    // Google's response ids look like 23 base64url characters ("EdDHavuSDILGjMcPvefFoQg").
    responseId: createHash('sha256').update(context.id).digest('base64url').slice(0, 23),
    answerChars: 0,
    thinkingChars: 0,
    toolCalls: 0,
  };
  context.state.gemini = created;
  return created;
}

/** The engine's `roughTokens` for text of this length, and 0 for no text. */
const tokensFor = (length: number): number => (length === 0 ? 0 : Math.max(1, Math.ceil(length / 4)));

export function createGeminiDialect(options: GeminiDialectOptions = {}): EmulatorDialect {
  /** Usage as Google reports it: prompt, candidates (absent while only thoughts streamed), thoughts. */
  const usageMetadata = (context: ResponseContext, usage?: EmulatedUsage, final = false) => {
    const state = stateOf(context);
    // Snapshots are cumulative and never shrink: the prompt count is fixed, the others only grow
    // (the engine's final usage for a scripted fault may count less than was streamed).
    const prompt = roughTokens(context.request.prompt) + 8;
    const thoughts = Math.max(usage?.thinkingTokens ?? 0, tokensFor(state.thinkingChars));
    const candidates = Math.max(
      usage ? usage.outputTokens - usage.thinkingTokens : 0,
      tokensFor(state.answerChars) + state.toolCalls * 12,
    );
    return {
      promptTokenCount: prompt,
      candidatesTokenCount: candidates > 0 ? candidates : undefined,
      totalTokenCount: prompt + candidates + thoughts,
      promptTokensDetails: [{ modality: 'TEXT', tokenCount: prompt }],
      candidatesTokensDetails:
        final && candidates > 0 ? [{ modality: 'TEXT', tokenCount: candidates }] : undefined,
      thoughtsTokenCount: thoughts > 0 ? thoughts : undefined,
      serviceTier: 'standard',
    };
  };
  const chunk = (context: ResponseContext, candidate: Record<string, unknown>, usage: unknown): string =>
    `data: ${googleJson({
      candidates: [candidate],
      usageMetadata: usage,
      modelVersion: context.model,
      responseId: stateOf(context).responseId,
    })}\r\n\r\n`;
  const content = (parts: unknown[]) => ({ parts, role: 'model' });

  return {
    provider: 'gemini',
    mount: '/gemini',
    baseSuffix: '',
    contentType: 'text/event-stream',
    route(method, path) {
      const match = /^\/v1(?:beta)?\/models\/([^/]+):streamGenerateContent$/.exec(path);
      if (method !== 'POST' || !match?.[1]) return undefined;
      try {
        return { model: decodeURIComponent(match[1]) };
      } catch {
        return undefined;
      }
    },
    authorized(headers: IncomingHttpHeaders, url: URL) {
      const header = headers['x-goog-api-key'];
      return (
        (typeof header === 'string' && header.length > 0) || (url.searchParams.get('key') ?? '').length > 0
      );
    },
    parseRequest(body, route, url) {
      return parseGeminiRequest(body, route.model, url);
    },
    begin(context) {
      stateOf(context);
      return [];
    },
    thinking(text, context) {
      stateOf(context).thinkingChars += text.length;
      return [
        chunk(context, { content: content([{ text, thought: true }]), index: 0 }, usageMetadata(context)),
      ];
    },
    text(text, context) {
      stateOf(context).answerChars += text.length;
      return [chunk(context, { content: content([{ text }]), index: 0 }, usageMetadata(context))];
    },
    toolCall(call: EmulatedToolCall, _index, context) {
      const state = stateOf(context);
      state.toolCalls++;
      const args: unknown = JSON.parse(call.arguments);
      const part: Record<string, unknown> = { functionCall: { name: call.name, args } };
      // Gemini 3 signs its function calls (docs/wire.md §3.3); the value is opaque to clients.
      if (needsThoughtSignature(context.model) && state.toolCalls === 1) {
        part.thoughtSignature = signCall(call.name, args);
      }
      return [chunk(context, { content: content([part]), index: 0 }, usageMetadata(context))];
    },
    finish(reason: EmulatedFinish, usage, context) {
      const final = usageMetadata(context, usage, true);
      if (reason === 'content_filter') {
        // "When streaming, the Candidate.content will be empty if content filters blocked the output."
        return [chunk(context, { finishReason: 'SAFETY', index: 0, safetyRatings: SAFETY_RATINGS }, final)];
      }
      const finishReason = reason === 'length' ? 'MAX_TOKENS' : 'STOP';
      return [chunk(context, { content: content([{ text: '' }]), finishReason, index: 0 }, final)];
    },
    midstreamError(kind) {
      return geminiMidstreamError(kind);
    },
    httpError(status, context, refusal) {
      return geminiHttpError(status, context, options.retryDelay, refusal);
    },
    malformed() {
      return 'data: {"candidates": [{"content": {"parts": [{"text": "unterminated\r\n\r\n';
    },
  };
}

const SAFETY_RATINGS = [
  { category: 'HARM_CATEGORY_SEXUALLY_EXPLICIT', probability: 'NEGLIGIBLE' },
  { category: 'HARM_CATEGORY_HATE_SPEECH', probability: 'NEGLIGIBLE' },
  { category: 'HARM_CATEGORY_HARASSMENT', probability: 'NEGLIGIBLE' },
  { category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH', blocked: true },
];
