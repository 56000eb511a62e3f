import { createHmac, randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { roughTokens } from '../../emulators/content.js';
import type {
  EmulatedFinish,
  EmulatedRefusal,
  EmulatedRequest,
  EmulatedToolCall,
  EmulatorDialect,
  MidstreamErrorKind,
  ResponseContext,
} from '../../emulators/types.js';
import { anthropicOutputLimit } from './models.js';

/**
 * The Messages API as Anthropic streams it (docs/wire.md §2): `event: <type>\ndata: <json>\n\n`
 * where `data.type` repeats the event name; `message_start`, a `ping`, content blocks numbered
 * from 0 (start, deltas, stop; a thinking block ends with its `signature_delta`),
 * `message_delta` with the stop reason and cumulative usage, then `message_stop`.
 */

interface AnthropicBody {
  model?: unknown;
  max_tokens?: unknown;
  messages?: unknown;
  tools?: unknown;
  stream?: unknown;
  thinking?: { type?: unknown } | null;
}

type BlockKind = 'text' | 'thinking';

/**
 * The key this process signs its thinking blocks with. A signature proves the block's text is
 * the emulator's own, unchanged, as Anthropic's do: a block sent back with another text or
 * signature is refused.
 */
const SIGNING_KEY = randomBytes(32);

/** The emulator's signature of one thinking block's text (base64, as Anthropic's look). */
export function signThinking(thinking: string): string {
  return createHmac('sha256', SIGNING_KEY).update(thinking).digest('base64');
}

const EXTENDED_THINKING_DOCS = 'https://docs.claude.com/en/docs/build-with-claude/extended-thinking';

function blocksOf(content: unknown): { type?: unknown; thinking?: unknown; signature?: unknown }[] {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text' }];
  return Array.isArray(content) ? content.map((block) => (block ?? {}) as Record<string, unknown>) : [];
}

/**
 * What Anthropic enforces on extended thinking across turns: a thinking block must come back
 * with its own signature, and with thinking on, a conversation that ends in tool results needs
 * the assistant turn before them to start with its thinking block (the API's message, 2025).
 */
function thinkingRefusal(messages: unknown[], thinking: boolean): EmulatedRefusal | undefined {
  for (const [index, message] of messages.entries()) {
    const { role, content } = (message ?? {}) as { role?: unknown; content?: unknown };
    if (role !== 'assistant') continue;
    for (const [position, block] of blocksOf(content).entries()) {
      if (block.type !== 'thinking') continue;
      const valid =
        typeof block.thinking === 'string' &&
        typeof block.signature === 'string' &&
        block.signature === signThinking(block.thinking);
      if (!valid)
        return {
          error: `messages.${index}.content.${position}: Invalid \`signature\` in \`thinking\` block`,
        };
    }
  }
  if (!thinking) return undefined;
  const last = messages.at(-1) as { role?: unknown; content?: unknown } | undefined;
  const endsInToolResults =
    last?.role === 'user' && blocksOf(last.content).some((block) => block.type === 'tool_result');
  if (!endsInToolResults) return undefined;
  const assistantIndex = messages.findLastIndex(
    (message) => (message as { role?: unknown } | null)?.role === 'assistant',
  );
  if (assistantIndex === -1) return undefined;
  const first = blocksOf((messages[assistantIndex] as { content?: unknown }).content)[0];
  if (first?.type === 'thinking' || first?.type === 'redacted_thinking') return undefined;
  return {
    error: `messages.${assistantIndex}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${String(first?.type ?? 'text')}\`. When \`thinking\` is enabled, a final \`assistant\` message must start with a thinking block (preceeding the lastmost set of \`tool_use\` and \`tool_result\` blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement, disable \`thinking\`. Please consult our documentation at ${EXTENDED_THINKING_DOCS}`,
  };
}

function event(type: string, payload: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...payload })}\n\n`;
}

function blockText(block: unknown): string {
  if (typeof block !== 'object' || block === null) return '';
  const entry = block as { type?: unknown; text?: unknown; content?: unknown };
  if (entry.type === 'text' && typeof entry.text === 'string') return entry.text;
  // A turn that only returns tool results still gives the emulator something to answer.
  if (entry.type === 'tool_result') {
    if (typeof entry.content === 'string') return entry.content;
    if (Array.isArray(entry.content)) return entry.content.map(blockText).join('');
  }
  return '';
}

/** The text of the last user turn, whose content may be a string or an array of blocks. */
function lastAnthropicUserText(messages: unknown): string {
  if (!Array.isArray(messages)) return '';
  for (let index = messages.length - 1; index >= 0; index--) {
    const message = messages[index] as { role?: unknown; content?: unknown } | null;
    if (message?.role !== 'user') continue;
    if (typeof message.content === 'string') return message.content;
    if (Array.isArray(message.content)) return message.content.map(blockText).join('');
    return '';
  }
  return '';
}

/**
 * What the Messages API refuses with 400 `invalid_request_error` before it streams, in its own
 * words: no message at all, a turn without content (only the final assistant turn, a prefill,
 * may be empty), empty or blank text blocks, and max_tokens past the model's output limit.
 */
function anthropicRefusal(
  model: string,
  messages: unknown[],
  maxTokens: number,
): EmulatedRefusal | undefined {
  if (messages.length === 0) return { error: 'messages: at least one message is required' };
  for (const [index, message] of messages.entries()) {
    const { role, content } = (message ?? {}) as { role?: unknown; content?: unknown };
    const blocks: unknown[] =
      typeof content === 'string'
        ? content === ''
          ? []
          : [{ type: 'text', text: content }]
        : Array.isArray(content)
          ? content
          : [];
    if (blocks.length === 0 && !(role === 'assistant' && index === messages.length - 1)) {
      return {
        error: `messages.${index}: all messages must have non-empty content except for the optional final assistant message`,
      };
    }
    for (const block of blocks) {
      const { type, text } = (block ?? {}) as { type?: unknown; text?: unknown };
      if (type !== 'text' || typeof text !== 'string') continue;
      if (text === '') return { error: 'messages: text content blocks must be non-empty' };
      if (text.trim() === '')
        return { error: 'messages: text content blocks must contain non-whitespace text' };
    }
  }
  const limit = anthropicOutputLimit(model);
  if (limit !== undefined && maxTokens > limit) {
    return {
      error: `max_tokens: ${maxTokens} > ${limit}, which is the maximum allowed number of output tokens for ${model}`,
    };
  }
  return undefined;
}

export function parseAnthropicRequest(body: unknown): EmulatedRequest | EmulatedRefusal {
  const request = (typeof body === 'object' && body !== null ? body : {}) as AnthropicBody;
  if (typeof request.model !== 'string' || !Array.isArray(request.messages)) {
    return { error: 'model: Field required; messages: Field required' };
  }
  if (typeof request.max_tokens !== 'number') return { error: 'max_tokens: Field required' };
  const thinking = request.thinking?.type === 'enabled';
  const refusal =
    anthropicRefusal(request.model, request.messages, request.max_tokens) ??
    thinkingRefusal(request.messages, thinking);
  if (refusal !== undefined) return refusal;
  const tools = Array.isArray(request.tools) ? request.tools : [];
  // A final assistant turn is a prefill: the answer carries on from it.
  const last = request.messages.at(-1) as { role?: unknown; content?: unknown } | undefined;
  const prefill =
    last?.role === 'assistant'
      ? typeof last.content === 'string'
        ? last.content
        : blocksOf(last.content)
            .map((block) => blockText(block))
            .join('')
      : '';
  return {
    model: request.model,
    prompt: lastAnthropicUserText(request.messages),
    ...(prefill.length > 0 ? { continuation: { partial: prefill, style: 'prefill' as const } } : {}),
    tools: tools.map((tool: { name?: unknown; input_schema?: unknown } | null) => ({
      name: String(tool?.name ?? 'tool'),
      parameters: tool?.input_schema,
    })),
    thinking,
    maxTokens: request.max_tokens,
    stream: request.stream === true,
    flags: {},
  };
}

const CLIENT_ERROR = { type: 'invalid_request_error', message: 'Invalid request.' };
const SERVER_ERROR = { type: 'api_error', message: 'Internal server error' };

/** Status -> error.type as documented (docs/wire.md §2.7); other 4xx are invalid_request_error. */
const HTTP_ERRORS: Readonly<Record<number, { type: string; message: string }>> = {
  400: CLIENT_ERROR,
  401: { type: 'authentication_error', message: 'invalid x-api-key' },
  403: {
    type: 'permission_error',
    message: 'Your API key does not have permission to use the specified resource.',
  },
  404: { type: 'not_found_error', message: 'The requested resource could not be found.' },
  413: { type: 'request_too_large', message: 'Request exceeds the maximum allowed number of bytes.' },
  429: {
    type: 'rate_limit_error',
    message: "This request would exceed your account's rate limit. Please try again later.",
  },
  500: SERVER_ERROR,
  529: { type: 'overloaded_error', message: 'Overloaded' },
};

const STOP_REASONS: Readonly<Record<EmulatedFinish, string>> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  content_filter: 'refusal',
};

function requestId(): string {
  return `req_011C${randomBytes(12).toString('hex')}`;
}

export function anthropicHttpError(
  status: number,
  refusal?: EmulatedRefusal,
): { headers: Record<string, string>; body: string } {
  const known = HTTP_ERRORS[status] ?? (status >= 500 ? SERVER_ERROR : CLIENT_ERROR);
  const id = requestId();
  return {
    headers: { 'request-id': id },
    body: JSON.stringify({
      type: 'error',
      error: { type: known.type, message: refusal?.error ?? known.message },
      request_id: id,
    }),
  };
}

/** Per-response block bookkeeping, kept in the engine's free-form context state. */
function openBlock(context: ResponseContext): BlockKind | undefined {
  const open = context.state.open;
  return open === 'text' || open === 'thinking' ? open : undefined;
}

function takeIndex(context: ResponseContext): number {
  const next = typeof context.state.nextIndex === 'number' ? context.state.nextIndex : 0;
  context.state.nextIndex = next + 1;
  return next;
}

function currentIndex(context: ResponseContext): number {
  return (typeof context.state.nextIndex === 'number' ? context.state.nextIndex : 1) - 1;
}

/** The open thinking block's text so far, which its signature covers. */
function thinkingPieces(context: ResponseContext): string[] {
  const pieces = context.state.thinkingPieces;
  if (Array.isArray(pieces)) return pieces as string[];
  const created: string[] = [];
  context.state.thinkingPieces = created;
  return created;
}

/** Closes the open text or thinking block; a thinking block's signature comes just before its stop. */
function closeBlock(context: ResponseContext): string[] {
  const open = openBlock(context);
  if (open === undefined) return [];
  context.state.open = undefined;
  const index = currentIndex(context);
  const events: string[] = [];
  if (open === 'thinking') {
    const thinking = thinkingPieces(context).join('');
    context.state.thinkingPieces = [];
    events.push(
      event('content_block_delta', {
        index,
        delta: { type: 'signature_delta', signature: signThinking(thinking) },
      }),
    );
  }
  events.push(event('content_block_stop', { index }));
  return events;
}

/** Makes sure a block of `kind` is open, closing another kind first. */
function ensureBlock(kind: BlockKind, context: ResponseContext): string[] {
  if (openBlock(context) === kind) return [];
  const events = closeBlock(context);
  const index = takeIndex(context);
  context.state.open = kind;
  const block =
    kind === 'thinking' ? { type: 'thinking', thinking: '', signature: '' } : { type: 'text', text: '' };
  events.push(event('content_block_start', { index, content_block: block }));
  return events;
}

export function createAnthropicDialect(): EmulatorDialect {
  return {
    provider: 'anthropic',
    mount: '/anthropic',
    baseSuffix: '',
    contentType: 'text/event-stream; charset=utf-8',
    route(method, path) {
      return method === 'POST' && path === '/v1/messages' ? {} : undefined;
    },
    authorized(headers: IncomingHttpHeaders) {
      const key = headers['x-api-key'];
      if (typeof key === 'string' && key.trim().length > 0) return true;
      // The official TypeScript SDK (1.x) sends its apiKey as `Authorization: Bearer`, and
      // OAuth tokens travel the same way; the API accepts both.
      return /^Bearer \S+/.test(headers.authorization ?? '');
    },
    parseRequest(body) {
      return parseAnthropicRequest(body);
    },
    begin(context) {
      const message = {
        id: `msg_01${context.id}`,
        type: 'message',
        role: 'assistant',
        model: context.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: {
          input_tokens: roughTokens(context.request.prompt) + 8,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0,
          output_tokens: 1,
        },
      };
      // The live API writes its ping with a space after the colon (docs and a real capture).
      return [event('message_start', { message }), 'event: ping\ndata: {"type": "ping"}\n\n'];
    },
    thinking(text, context) {
      const events = ensureBlock('thinking', context);
      thinkingPieces(context).push(text);
      const index = currentIndex(context);
      events.push(event('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: text } }));
      return events;
    },
    text(text, context) {
      const events = ensureBlock('text', context);
      const index = currentIndex(context);
      events.push(event('content_block_delta', { index, delta: { type: 'text_delta', text } }));
      return events;
    },
    toolCall(call: EmulatedToolCall, _index, context) {
      const events = closeBlock(context);
      const index = takeIndex(context);
      const id = call.id.replace(/^call_/, 'toolu_01');
      events.push(
        event('content_block_start', {
          index,
          content_block: { type: 'tool_use', id, name: call.name, input: {} },
        }),
      );
      // Real streams open with an empty fragment, then roughly one key or value at a time.
      const fragments = ['', ...(call.arguments.match(/[^,:]+[,:]?|[,:]/g) ?? [])];
      for (const partial_json of fragments) {
        events.push(
          event('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json } }),
        );
      }
      events.push(event('content_block_stop', { index }));
      return events;
    },
    finish(reason: EmulatedFinish, usage, context) {
      const events = closeBlock(context);
      const stopReason = STOP_REASONS[reason];
      const delta: Record<string, unknown> = { stop_reason: stopReason, stop_sequence: null };
      if (stopReason === 'refusal') {
        delta.stop_details = {
          type: 'refusal',
          category: null,
          explanation: 'This request was blocked under Anthropic usage policy (emulated).',
        };
      }
      const wireUsage: Record<string, unknown> = {
        input_tokens: usage.inputTokens,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        output_tokens: usage.outputTokens,
      };
      if (usage.thinkingTokens > 0)
        wireUsage.output_tokens_details = { thinking_tokens: usage.thinkingTokens };
      events.push(event('message_delta', { delta, usage: wireUsage }));
      events.push(event('message_stop', {}));
      return events;
    },
    midstreamError(kind: MidstreamErrorKind) {
      const error =
        kind === 'server_error'
          ? { type: 'api_error', message: 'Internal server error' }
          : { type: 'overloaded_error', message: 'Overloaded' };
      return [event('error', { error })];
    },
    httpError(status, _context, refusal) {
      return anthropicHttpError(status, refusal);
    },
    malformed(context) {
      const index = Math.max(0, currentIndex(context));
      return `event: content_block_delta\ndata: {"type":"content_block_delta","index":${index},"delta":{"type":"text_delta","text":"unterminated\n\n`;
    },
  };
}
