import { z } from 'zod';

/**
 * The body of `POST /api/v1/chat/stream` (CONTRACT.md section 2). Unknown fields are ignored;
 * every other mistake becomes one `invalid_request` issue naming the field.
 */

/**
 * The deepest nesting of objects and arrays accepted anywhere in a body (the body itself is
 * level 1), and in a tool call's arguments. `JSON.parse` takes any depth, but `JSON.stringify`
 * and every recursive walk over the value overflow the stack a few thousand levels down, so a
 * deeper value would fail while the provider request is written, after the stream started.
 * Real tool schemas and arguments stay far below this.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * A UTF-16 surrogate that is not half of a pair (`\ud800` in JSON text). Such a string has no
 * UTF-8 form: `encodeURIComponent` throws on it and a UTF-8 encoder silently turns it into U+FFFD,
 * so it can neither name anything nor be sent on faithfully.
 */
const LONE_SURROGATE = /\p{Cs}/u;

export type JsonObject = Record<string, unknown>;

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

interface JsonProblem {
  path: PropertyKey[];
  problem: 'depth' | 'unicode';
}

/**
 * The first place where `value` nests deeper than `MAX_JSON_DEPTH` or, with `unicode`, holds
 * ill-formed Unicode (in a string or an object key). `path` is the value's own path and `depth`
 * its level; the path is one mutable stack, copied only when a problem is found.
 */
function findJsonProblem(
  value: unknown,
  path: PropertyKey[],
  depth: number,
  unicode: boolean,
): JsonProblem | undefined {
  if (typeof value === 'string') {
    return unicode && LONE_SURROGATE.test(value) ? { path: [...path], problem: 'unicode' } : undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  if (depth > MAX_JSON_DEPTH) return { path: [...path], problem: 'depth' };
  const entries: Iterable<[PropertyKey, unknown]> = Array.isArray(value)
    ? value.entries()
    : Object.entries(value);
  for (const [key, member] of entries) {
    if (unicode && typeof key === 'string' && LONE_SURROGATE.test(key)) {
      return { path: [...path], problem: 'unicode' };
    }
    path.push(key);
    const found = findJsonProblem(member, path, depth + 1, unicode);
    path.pop();
    if (found !== undefined) return found;
  }
  return undefined;
}

function jsonProblemMessage(field: string, problem: 'depth' | 'unicode'): string {
  return problem === 'depth'
    ? `${field} nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels`
    : `${field} holds ill-formed Unicode (a lone UTF-16 surrogate)`;
}

/**
 * The object that `text` is the JSON text of, when it is one that can be sent on: nested at most
 * `MAX_JSON_DEPTH` levels, with well-formed Unicode. Anything else gives undefined.
 */
export function parseJsonObject(text: string): JsonObject | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  return isJsonObject(parsed) && findJsonProblem(parsed, [], 1, true) === undefined ? parsed : undefined;
}

/**
 * A tool call's arguments (Chat Completions JSON text) as the object that Anthropic's
 * `tool_use.input`, Gemini's `functionCall.args` and Ollama's `arguments` must be. Empty text
 * means no arguments; anything `parseJsonObject` refuses gives undefined.
 */
export function parseToolArguments(text: string): JsonObject | undefined {
  return text.trim().length === 0 ? {} : parseJsonObject(text);
}

/** Tool names as every provider accepts them (Anthropic and Gemini are the strictest). */
const toolName = z
  .string({ error: 'tool names must be strings' })
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'tool name must be 1 to 64 letters, digits, "_" or "-"');

const toolCallSchema = z.object({
  id: z.string().min(1, 'must be a non-empty string'),
  type: z.literal('function').optional(),
  function: z.object({
    name: toolName,
    arguments: z
      .string()
      .refine(
        (text) => parseToolArguments(text) !== undefined,
        `must be the JSON text of an object (nested at most ${MAX_JSON_DEPTH} levels), or empty for no arguments`,
      ),
  }),
});

/**
 * OpenAI-style content parts (CONTRACT.md section 8): text parts only, joined into the one text
 * every provider mapping takes. Parts of other types (images, audio, files) are refused, not
 * dropped, so a request never silently loses what it asked about.
 */
const textPartsSchema = z
  .array(
    z.object({
      type: z.literal('text', { error: 'only text parts ({"type": "text", "text": "..."}) are supported' }),
      text: z.string({ error: 'a text part needs a string text' }),
    }),
    { error: 'content must be a string or an array of text parts' },
  )
  .max(1024, 'content may hold at most 1024 parts')
  .transform((parts) => parts.map((part) => part.text).join(''));

/** A message's content: text, or text parts; a wrong part is named by its own path. */
const contentSchema = z.unknown().transform((value, context): string | null | undefined => {
  if (value === undefined || value === null || typeof value === 'string') return value;
  if (!Array.isArray(value)) {
    context.addIssue({ code: 'custom', message: 'content must be a string or an array of text parts' });
    return z.NEVER;
  }
  const parts = textPartsSchema.safeParse(value);
  if (parts.success) return parts.data;
  for (const issue of parts.error.issues) {
    context.addIssue({ code: 'custom', message: issue.message, path: issue.path });
  }
  return z.NEVER;
});

const messageSchema = z
  .object({
    role: z.enum(['system', 'user', 'assistant', 'tool'], {
      error: 'role must be one of system, user, assistant, tool',
    }),
    content: contentSchema.optional(),
    tool_call_id: z.string().min(1).optional(),
    /** Extension: the tool calls an assistant turn made, so tool results can follow it. */
    tool_calls: z.array(toolCallSchema).max(128).optional(),
    /**
     * On an assistant turn: the `reasoning_state` of the `done` that ended it, sent back unchanged
     * (opaque JSON; each provider's request mapping reads what it wrote and ignores the rest).
     */
    reasoning_state: z.unknown().optional(),
  })
  .superRefine((message, context) => {
    if (message.role === 'tool' && !message.tool_call_id) {
      context.addIssue({
        code: 'custom',
        path: ['tool_call_id'],
        message: 'tool_call_id is required for role tool',
      });
    }
    const hasToolCalls = message.role === 'assistant' && (message.tool_calls?.length ?? 0) > 0;
    if (typeof message.content !== 'string' && !hasToolCalls) {
      context.addIssue({ code: 'custom', path: ['content'], message: 'content must be a string' });
    }
    if (message.role !== 'assistant' && message.reasoning_state != null) {
      context.addIssue({
        code: 'custom',
        path: ['reasoning_state'],
        message: 'reasoning_state belongs on assistant messages only',
      });
    }
  });

const toolSchema = z.object({
  type: z.literal('function', { error: 'tool type must be "function"' }),
  function: z.object({
    name: toolName,
    description: z.string().max(4096).optional(),
    // Every provider takes a JSON Schema of an object here (OpenAI answers 400 "schema must be a
    // JSON Schema of 'type: \"object\"'"; Anthropic's input_schema.type must be "object").
    parameters: z
      .record(z.string(), z.unknown())
      .superRefine((schema, context) => {
        if (schema.type !== undefined && schema.type !== 'object') {
          context.addIssue({
            code: 'custom',
            path: ['type'],
            message: 'a tool\'s parameters must be a JSON Schema of type "object"',
          });
        }
      })
      .optional(),
  }),
});

const nullable = <T extends z.ZodType>(schema: T) => schema.nullable().optional();

/** The most `fallbacks` a request may name (CONTRACT.md section 8). */
export const MAX_FALLBACKS = 4;

/** A provider and a model, as the request and each of its fallbacks name them. */
const providerField = z
  .string({ error: 'provider must be a string' })
  .min(1, 'provider must not be empty')
  .max(64, 'provider is too long');
const modelField = nullable(
  z
    .string({ error: 'model must be a string' })
    .min(1, 'model must not be empty')
    .max(256, 'model is too long'),
);

const fallbackSchema = z.object({ provider: providerField, model: modelField });

const chatRequestSchema = z.object({
  provider: providerField,
  model: modelField,
  messages: z
    .array(messageSchema, { error: 'messages must be an array of messages' })
    .min(1, 'messages must contain at least one message')
    .max(2048, 'messages may hold at most 2048 messages')
    .optional(),
  /** Shorthand for one user message (CONTRACT.md section 8). */
  prompt: z.string({ error: 'prompt must be a string' }).min(1, 'prompt must not be empty').optional(),
  temperature: nullable(
    z
      .number({ error: 'temperature must be a number' })
      .min(0, 'temperature must be between 0 and 2')
      .max(2, 'temperature must be between 0 and 2'),
  ),
  max_tokens: nullable(
    z
      .number({ error: 'max_tokens must be a positive integer' })
      .int('max_tokens must be a positive integer')
      .positive('max_tokens must be a positive integer')
      .max(10_000_000, 'max_tokens is too large'),
  ),
  thinking_budget: nullable(
    z
      .number({ error: 'thinking_budget must be null or a non-negative integer' })
      .int('thinking_budget must be null or a non-negative integer')
      .min(0, 'thinking_budget must be null or a non-negative integer')
      .max(10_000_000, 'thinking_budget is too large'),
  ),
  include_thinking: nullable(z.boolean({ error: 'include_thinking must be a boolean' })),
  tools: nullable(
    z
      .array(toolSchema, { error: 'tools must be an array' })
      .max(128, 'at most 128 tools')
      .superRefine((tools, context) => {
        // Anthropic and Gemini refuse a second declaration of a name; for any provider it is ambiguous.
        const seen = new Set<string>();
        for (const [position, tool] of tools.entries()) {
          if (seen.has(tool.function.name)) {
            context.addIssue({
              code: 'custom',
              path: [position, 'function', 'name'],
              message: `tool name "${tool.function.name}" is declared twice`,
            });
            return;
          }
          seen.add(tool.function.name);
        }
      }),
  ),
  token_budget: nullable(
    z
      .number({ error: 'token_budget must be a positive integer' })
      .int('token_budget must be a positive integer')
      .positive('token_budget must be a positive integer')
      .max(10_000_000, 'token_budget is too large'),
  ),
  fallbacks: nullable(
    z
      .array(fallbackSchema, { error: 'fallbacks must be an array of {"provider", "model"}' })
      .max(MAX_FALLBACKS, `fallbacks may name at most ${MAX_FALLBACKS} providers`),
  ),
  recover: nullable(z.boolean({ error: 'recover must be a boolean' })),
  cancel_on_disconnect: nullable(z.boolean({ error: 'cancel_on_disconnect must be a boolean' })),
});

/** The fields this schema reads: ill-formed Unicode under any other key is ignored with the key. */
const KNOWN_FIELDS: ReadonlySet<string> = new Set(Object.keys(chatRequestSchema.shape));

export type ChatMessage = z.infer<typeof messageSchema>;
/** One entry of `fallbacks`: the provider's default model when `model` is absent. */
export interface FallbackTarget {
  provider: string;
  model: string | undefined;
}
export type ToolDefinition = z.infer<typeof toolSchema>;

/** A validated chat request, with absent optional fields normalized to `undefined`. */
export interface ChatRequest {
  provider: string;
  model: string | undefined;
  messages: ChatMessage[];
  temperature: number | undefined;
  max_tokens: number | undefined;
  thinking_budget: number | undefined;
  include_thinking: boolean;
  tools: ToolDefinition[] | undefined;
  /** Output tokens (answer and reasoning) after which the stream is cut (`finish_reason` `length`). */
  token_budget: number | undefined;
  /** Tried in order when the request fails before its first content frame. */
  fallbacks: FallbackTarget[];
  /** Continue an answer whose upstream dropped after text went out. */
  recover: boolean;
  /** No grace period: a reader that goes away aborts the upstream at once. */
  cancel_on_disconnect: boolean;
}

interface RequestIssue {
  message: string;
  field: string | undefined;
}

type ParseResult = { ok: true; request: ChatRequest } | { ok: false; issue: RequestIssue };

function fieldOf(path: readonly PropertyKey[]): string | undefined {
  return path.length === 0 ? undefined : path.map(String).join('.');
}

/** Whether the body holds a value (`null` included) at `path`, to tell "missing" from "wrong". */
function isPresent(body: unknown, path: readonly PropertyKey[]): boolean {
  let node = body;
  for (const key of path) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, key)) return false;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return true;
}

/** zod's `expected` names, as a message says them. */
const TYPE_NAMES: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'a boolean',
  array: 'an array',
  object: 'an object',
  record: 'a JSON object',
};

type SchemaIssue = z.core.$ZodIssue;

function describeIssue(issue: SchemaIssue | undefined, body: object): RequestIssue {
  if (issue === undefined) return { message: 'invalid request', field: undefined };
  const field = fieldOf(issue.path);
  if (field === undefined) return { message: issue.message, field };
  // zod v4 issues do not carry the input, so "missing" is read from the body itself: a key that
  // is absent is required; one that is present has the wrong type or value.
  if (issue.code !== 'custom' && !isPresent(body, issue.path))
    return { message: `${field} is required`, field };
  if (issue.code === 'invalid_type' && issue.message.startsWith('Invalid input')) {
    return { message: `${field} must be ${TYPE_NAMES[issue.expected] ?? issue.expected}`, field };
  }
  const message =
    field.includes('.') && !issue.message.startsWith(field) ? `${field}: ${issue.message}` : issue.message;
  return { message, field };
}

/**
 * Depth and Unicode, checked on the raw body before the schema: the depth bound holds for every
 * key (an unknown field too, since any walk over it could overflow), well-formed Unicode for the
 * fields the gateway reads and forwards.
 */
function bodyProblem(body: object): RequestIssue | undefined {
  for (const [key, value] of Object.entries(body)) {
    const found = findJsonProblem(value, [key], 2, KNOWN_FIELDS.has(key));
    if (found === undefined) continue;
    const field = fieldOf(found.path) ?? key;
    return { message: jsonProblemMessage(field, found.problem), field };
  }
  return undefined;
}

/** The conversation: `messages`, or the one user turn `prompt` stands for; never both. */
function messagesOf(data: { messages?: ChatMessage[]; prompt?: string }): ChatMessage[] | RequestIssue {
  if (data.prompt !== undefined && data.messages !== undefined) {
    return { message: 'give either prompt or messages, not both', field: 'prompt' };
  }
  if (data.prompt !== undefined) return [{ role: 'user', content: data.prompt }];
  return data.messages ?? { message: 'messages is required', field: 'messages' };
}

/** Validates an already JSON-parsed body. */
export function parseChatRequest(body: unknown): ParseResult {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, issue: { message: 'the request body must be a JSON object', field: undefined } };
  }
  const problem = bodyProblem(body);
  if (problem !== undefined) return { ok: false, issue: problem };
  const result = chatRequestSchema.safeParse(body);
  if (!result.success) return { ok: false, issue: describeIssue(result.error.issues[0], body) };
  const data = result.data;
  const messages = messagesOf(data);
  if (!Array.isArray(messages)) return { ok: false, issue: messages };
  return {
    ok: true,
    request: {
      provider: data.provider,
      model: data.model ?? undefined,
      messages,
      temperature: data.temperature ?? undefined,
      max_tokens: data.max_tokens ?? undefined,
      thinking_budget: data.thinking_budget ?? undefined,
      include_thinking: data.include_thinking ?? true,
      tools: data.tools ?? undefined,
      token_budget: data.token_budget ?? undefined,
      fallbacks: (data.fallbacks ?? []).map((entry) => ({
        provider: entry.provider,
        model: entry.model ?? undefined,
      })),
      recover: data.recover ?? false,
      cancel_on_disconnect: data.cancel_on_disconnect ?? false,
    },
  };
}
