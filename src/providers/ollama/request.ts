import { type ChatMessage, type ChatRequest, parseToolArguments } from '../../protocol/request.js';
import type { UpstreamRequest } from '../../upstream/transport.js';
import { toOpenAiTools } from '../openai/request.js';
import type { ProviderSettings } from '../types.js';

/**
 * `POST {base}/api/chat` (ollama docs/api.md). Unlike Chat Completions, Ollama wants tool call
 * arguments as JSON objects, names tool results by `tool_name` rather than by call id, and
 * takes sampling settings inside `options`.
 */

type JsonObject = Record<string, unknown>;

interface OllamaToolCall {
  function: { name: string; arguments: JsonObject };
}

type OllamaMessage =
  | { role: 'system' | 'user'; content: string }
  | { role: 'assistant'; content: string; tool_calls?: OllamaToolCall[] }
  | { role: 'tool'; content: string; tool_name?: string };

/**
 * Model families that stream reasoning through `think` (ollama.com/search?c=thinking).
 * qwen3-coder is the exception in the qwen3 family: it has no thinking mode.
 */
const THINKING_FAMILIES = /^(?:qwen3|deepseek-r1|gpt-oss|magistral)(?:$|[-:._])/;

/** Whether a model name (`qwen3:8b`, `library/deepseek-r1`, `hf.co/org/gpt-oss-20b`) can reason. */
export function ollamaCanThink(model: string): boolean {
  const base = (model.split('/').at(-1) ?? model).toLowerCase();
  return THINKING_FAMILIES.test(base) && !base.startsWith('qwen3-coder');
}

export function toOllamaMessages(messages: readonly ChatMessage[]): OllamaMessage[] {
  const toolNames = new Map<string, string>();
  return messages.map((message): OllamaMessage => {
    const content = message.content ?? '';
    switch (message.role) {
      case 'system':
      case 'user':
        return { role: message.role, content };
      case 'assistant': {
        if (!message.tool_calls?.length) return { role: 'assistant', content };
        for (const call of message.tool_calls) toolNames.set(call.id, call.function.name);
        return {
          role: 'assistant',
          content,
          tool_calls: message.tool_calls.map((call) => ({
            function: {
              name: call.function.name,
              arguments: parseToolArguments(call.function.arguments) ?? {},
            },
          })),
        };
      }
      case 'tool': {
        // Ollama matches a result to its call by the tool's name (`tool_name`), not by an id.
        const toolName = message.tool_call_id === undefined ? undefined : toolNames.get(message.tool_call_id);
        return toolName === undefined
          ? { role: 'tool', content }
          : { role: 'tool', content, tool_name: toolName };
      }
      default: {
        const exhaustive: never = message.role;
        throw new Error(`unknown role ${String(exhaustive)}`);
      }
    }
  });
}

/**
 * `think`: on for a positive budget (Ollama has no budget, only the switch), off for 0, and on
 * by default only for models that can think: Ollama refuses `think: true` for other models.
 */
function thinkSetting(model: string, budget: number | undefined): boolean | undefined {
  if (budget === 0) return false;
  if (budget !== undefined) return true;
  return ollamaCanThink(model) ? true : undefined;
}

export function buildOllamaRequest(
  request: ChatRequest,
  model: string,
  settings: ProviderSettings,
): UpstreamRequest {
  const body: JsonObject = { model, messages: toOllamaMessages(request.messages), stream: true };
  const options: JsonObject = {};
  if (request.temperature !== undefined) options.temperature = request.temperature;
  if (request.max_tokens !== undefined) options.num_predict = request.max_tokens;
  if (Object.keys(options).length > 0) body.options = options;
  if (request.tools?.length) {
    body.tools = toOpenAiTools(request.tools);
  }
  const think = thinkSetting(model, request.thinking_budget);
  if (think !== undefined) body.think = think;
  return {
    url: `${settings.baseUrl.replace(/\/+$/, '')}/api/chat`,
    headers: { 'content-type': 'application/json', accept: 'application/x-ndjson' },
    body: JSON.stringify(body),
  };
}
