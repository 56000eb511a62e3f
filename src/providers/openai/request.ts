import type { ChatMessage, ChatRequest, ToolDefinition } from '../../protocol/request.js';
import type { UpstreamRequest } from '../../upstream/transport.js';
import type { ProviderSettings } from '../types.js';

type OpenAiMessage =
  | { role: 'system' | 'user'; content: string }
  | {
      role: 'assistant';
      content: string | null;
      tool_calls?: { id: string; type: 'function'; function: { name: string; arguments: string } }[];
    }
  | { role: 'tool'; content: string; tool_call_id: string };

function toOpenAiMessages(messages: readonly ChatMessage[]): OpenAiMessage[] {
  return messages.map((message): OpenAiMessage => {
    const content = message.content ?? '';
    switch (message.role) {
      case 'system':
      case 'user':
        return { role: message.role, content };
      case 'assistant':
        return message.tool_calls?.length
          ? {
              role: 'assistant',
              content: message.content ?? null,
              tool_calls: message.tool_calls.map((call) => ({
                id: call.id,
                type: 'function',
                function: { name: call.function.name, arguments: call.function.arguments },
              })),
            }
          : { role: 'assistant', content };
      default:
        return { role: 'tool', content, tool_call_id: message.tool_call_id ?? '' };
    }
  });
}

/** OpenAI reasoning models (o-series, gpt-5): no streamed reasoning text, an effort knob, no temperature. */
export function isOpenAiReasoningModel(model: string): boolean {
  return /^(o\d|gpt-5)/.test(model) && !model.startsWith('gpt-5-chat');
}

/** A token budget onto OpenAI's coarse `reasoning_effort`. */
export function reasoningEffort(model: string, budget: number): string {
  if (budget === 0) return model.startsWith('gpt-5') ? 'minimal' : 'low';
  if (budget <= 2048) return 'low';
  if (budget <= 16_384) return 'medium';
  return 'high';
}

/** The request's tools in Chat Completions form (Ollama takes the same). */
export function toOpenAiTools(tools: readonly ToolDefinition[]): unknown[] {
  return tools.map((tool) => ({
    type: 'function',
    function: {
      name: tool.function.name,
      ...(tool.function.description !== undefined ? { description: tool.function.description } : {}),
      parameters: tool.function.parameters ?? { type: 'object', properties: {} },
    },
  }));
}

interface OpenAiCompatibleOptions {
  /** OpenAI proper takes `max_completion_tokens`; compatible hosts still read `max_tokens`. */
  maxTokensField: 'max_completion_tokens' | 'max_tokens';
  reasoningEffort: boolean;
}

export function buildOpenAiCompatibleRequest(
  request: ChatRequest,
  model: string,
  settings: ProviderSettings,
  options: OpenAiCompatibleOptions,
): UpstreamRequest {
  const body: Record<string, unknown> = {
    model,
    messages: toOpenAiMessages(request.messages),
    stream: true,
    stream_options: { include_usage: true },
  };
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.max_tokens !== undefined) body[options.maxTokensField] = request.max_tokens;
  if (options.reasoningEffort && request.thinking_budget !== undefined && isOpenAiReasoningModel(model)) {
    body.reasoning_effort = reasoningEffort(model, request.thinking_budget);
  }
  if (request.tools?.length) body.tools = toOpenAiTools(request.tools);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'text/event-stream',
  };
  if (settings.apiKey) headers.authorization = `Bearer ${settings.apiKey}`;
  return {
    url: `${settings.baseUrl.replace(/\/+$/, '')}/chat/completions`,
    headers,
    body: JSON.stringify(body),
  };
}
