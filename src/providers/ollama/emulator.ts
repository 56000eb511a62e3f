import { STATUS_CODES } from 'node:http';
import type {
  EmulatedFinish,
  EmulatedRefusal,
  EmulatedRequest,
  EmulatedToolCall,
  EmulatorDialect,
  ResponseContext,
} from '../../emulators/types.js';
import { chatContinuation, lastUserText } from '../openai/emulator.js';

/**
 * Ollama's `/api/chat` stream (docs/wire.md §5; ollama server/routes.go, api/types.go): one
 * compact JSON object and `\n` per line, keys in Go struct order, `created_at` in RFC 3339
 * with nanoseconds (trailing zeros trimmed, as Go's RFC3339Nano does), `message.thinking`
 * when `think` is on, tool calls whole on one line with object arguments, a last line with
 * `done_reason`, `done: true` and the counters (durations in nanoseconds). No credentials.
 */

interface OllamaBody {
  model?: unknown;
  messages?: { role?: unknown; content?: unknown }[];
  tools?: { function?: { name?: unknown; parameters?: unknown } }[];
  stream?: unknown;
  think?: unknown;
  options?: { num_predict?: unknown } | null;
}

export function parseOllamaRequest(body: unknown): EmulatedRequest | EmulatedRefusal {
  const request = (typeof body === 'object' && body !== null ? body : {}) as OllamaBody;
  if (typeof request.model !== 'string' || request.model.length === 0) return { error: 'model is required' };
  const maxTokens = request.options?.num_predict;
  const messages = Array.isArray(request.messages) ? request.messages : [];
  // A final assistant message is continued, not answered (ollama/ollama#6778).
  const continued = chatContinuation(messages, 'prefill');
  return {
    model: request.model,
    prompt: continued?.prompt ?? lastUserText(messages),
    ...(continued?.continuation !== undefined ? { continuation: continued.continuation } : {}),
    tools: (request.tools ?? []).map((tool) => ({
      name: String(tool.function?.name ?? 'tool'),
      parameters: tool.function?.parameters,
    })),
    // `think` is a boolean, or a level ("low" | "medium" | "high") for gpt-oss.
    thinking: request.think === true || ['low', 'medium', 'high'].includes(String(request.think)),
    maxTokens: typeof maxTokens === 'number' ? maxTokens : undefined,
    // Streaming is Ollama's default: only an explicit `false` turns it off.
    stream: request.stream !== false,
    flags: {},
  };
}

/** `time.Now().UTC()` marshalled by Go: RFC 3339 with up to nine fraction digits, zeros trimmed. */
function createdAt(): string {
  const iso = new Date().toISOString();
  const nanos = String(process.hrtime.bigint() % 1_000_000n).padStart(6, '0');
  const fraction = `${iso.slice(20, 23)}${nanos}`.replace(/0+$/, '');
  return `${iso.slice(0, 19)}${fraction.length > 0 ? `.${fraction}` : ''}Z`;
}

/** Ollama has no moderation stop and says `stop` after tool calls as well. */
function doneReason(reason: EmulatedFinish): string {
  switch (reason) {
    case 'length':
      return 'length';
    case 'stop':
    case 'tool_calls':
    case 'content_filter':
      return 'stop';
    default: {
      const exhaustive: never = reason;
      throw new Error(`unknown finish ${String(exhaustive)}`);
    }
  }
}

const HTTP_ERRORS: Record<number, (model: string) => string> = {
  400: (model) => (model === 'unknown' ? 'model is required' : 'invalid request'),
  404: (model) => `model '${model}' not found, try pulling it first`,
  500: () => 'llama runner process has terminated: exit status 2',
  503: () => 'server busy, please try again.  maximum pending requests exceeded',
};

export function createOllamaDialect(): EmulatorDialect {
  const line = (context: ResponseContext, message: Record<string, unknown>): string =>
    `${JSON.stringify({
      model: context.model,
      created_at: createdAt(),
      message: { role: 'assistant', ...message },
      done: false,
    })}\n`;

  return {
    provider: 'ollama',
    mount: '/ollama',
    baseSuffix: '',
    contentType: 'application/x-ndjson',
    route(method, path) {
      return method === 'POST' && path === '/api/chat' ? {} : undefined;
    },
    authorized() {
      // A local Ollama takes no credentials.
      return true;
    },
    parseRequest(body) {
      return parseOllamaRequest(body);
    },
    begin(context) {
      context.state.startedAt = process.hrtime.bigint();
      return [];
    },
    thinking(text, context) {
      return [line(context, { content: '', thinking: text })];
    },
    text(text, context) {
      return [line(context, { content: text })];
    },
    toolCall(call: EmulatedToolCall, index, context) {
      // Ollama's tool call ids are `call_` and eight random characters (server/routes.go toolCallId).
      const id = `call_${context.id.slice(0, 6)}${String(index).padStart(2, '0')}`;
      return [
        line(context, {
          content: '',
          tool_calls: [{ id, function: { index, name: call.name, arguments: JSON.parse(call.arguments) } }],
        }),
      ];
    },
    finish(reason, usage, context) {
      const started = context.state.startedAt;
      const elapsed = typeof started === 'bigint' ? Number(process.hrtime.bigint() - started) : 0;
      const loadDuration = 2_500_000;
      const promptEvalDuration = 10_000_000 + usage.inputTokens * 250_000;
      const evalDuration = Math.max(elapsed, usage.outputTokens * 12_000_000);
      const final = {
        model: context.model,
        created_at: createdAt(),
        message: { role: 'assistant', content: '' },
        done_reason: doneReason(reason),
        done: true,
        total_duration: loadDuration + promptEvalDuration + evalDuration,
        load_duration: loadDuration,
        prompt_eval_count: usage.inputTokens,
        prompt_eval_duration: promptEvalDuration,
        eval_count: usage.outputTokens,
        eval_duration: evalDuration,
      };
      return [`${JSON.stringify(final)}\n`];
    },
    midstreamError(kind) {
      // What a failing runner reports once the answer has started (server/routes.go pushes err.Error()).
      const error =
        kind === 'server_error'
          ? 'an error was encountered while running the model: unexpected EOF'
          : 'model runner has unexpectedly stopped, this may be due to resource limitations or an internal error, check ollama server logs for details';
      return [`${JSON.stringify({ error })}\n`];
    },
    httpError(status, context, refusal) {
      const message =
        refusal?.error ??
        HTTP_ERRORS[status]?.(context.model) ??
        (STATUS_CODES[status] ?? 'error').toLowerCase();
      return {
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body: JSON.stringify({ error: message }),
      };
    },
    malformed(context) {
      return `{"model":"${context.model}","created_at":"${createdAt()}","message":{"role":"assistant","content":"unterminated\n`;
    },
  };
}
