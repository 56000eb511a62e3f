import { z } from 'zod';

/**
 * The body of `POST /api/v1/chat/stream` (CONTRACT.md section 2). Unknown fields are ignored;
 * every other mistake becomes one `invalid_request` issue naming the field.
 */

const toolCallSchema = z.object({
  id: z.string().min(1, 'must be a non-empty string'),
  type: z.literal('function').optional(),
  function: z.object({
    name: z.string().min(1, 'must be a non-empty string'),
    arguments: z.string(),
  }),
});

const messageSchema = z
  .object({
    role: z.enum(['system', 'user', 'assistant', 'tool'], {
      error: 'role must be one of system, user, assistant, tool',
    }),
    content: z.string({ error: 'content must be a string' }).nullable().optional(),
    tool_call_id: z.string().min(1).optional(),
    /** Extension: the tool calls an assistant turn made, so tool results can follow it. */
    tool_calls: z.array(toolCallSchema).max(128).optional(),
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
  });

const toolSchema = z.object({
  type: z.literal('function', { error: 'tool type must be "function"' }),
  function: z.object({
    name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'tool name must be 1 to 64 letters, digits, "_" or "-"'),
    description: z.string().max(4096).optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
  }),
});

const nullable = <T extends z.ZodType>(schema: T) => schema.nullable().optional();

const chatRequestSchema = z.object({
  provider: z.string({ error: 'provider is required and must be a string' }).min(1, 'provider is required'),
  model: nullable(
    z
      .string({ error: 'model must be a string' })
      .min(1, 'model must not be empty')
      .max(256, 'model is too long'),
  ),
  messages: z
    .array(messageSchema, { error: 'messages must be an array of messages' })
    .min(1, 'messages must contain at least one message')
    .max(2048, 'messages may hold at most 2048 messages'),
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
      .min(0, 'thinking_budget must be null or a non-negative integer'),
  ),
  include_thinking: nullable(z.boolean({ error: 'include_thinking must be a boolean' })),
  tools: nullable(z.array(toolSchema, { error: 'tools must be an array' }).max(128, 'at most 128 tools')),
});

export type ChatMessage = z.infer<typeof messageSchema>;
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
}

interface RequestIssue {
  message: string;
  field: string | undefined;
}

type ParseResult = { ok: true; request: ChatRequest } | { ok: false; issue: RequestIssue };

function fieldOf(path: readonly PropertyKey[]): string | undefined {
  return path.length === 0 ? undefined : path.map(String).join('.');
}

/** Validates an already JSON-parsed body. */
export function parseChatRequest(body: unknown): ParseResult {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, issue: { message: 'the request body must be a JSON object', field: undefined } };
  }
  const result = chatRequestSchema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = fieldOf(issue?.path ?? []);
    let message = issue?.message ?? 'invalid request';
    if (issue?.code === 'invalid_type' && issue.input === undefined && field !== undefined) {
      message = `${field} is required`;
    } else if (field?.includes('.') && !message.startsWith(field)) {
      message = `${field}: ${message}`;
    }
    return { ok: false, issue: { message, field } };
  }
  const data = result.data;
  return {
    ok: true,
    request: {
      provider: data.provider,
      model: data.model ?? undefined,
      messages: data.messages,
      temperature: data.temperature ?? undefined,
      max_tokens: data.max_tokens ?? undefined,
      thinking_budget: data.thinking_budget ?? undefined,
      include_thinking: data.include_thinking ?? true,
      tools: data.tools ?? undefined,
    },
  };
}
