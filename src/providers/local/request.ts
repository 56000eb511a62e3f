import type { ChatRequest } from '../../protocol/request.js';
import type { UpstreamRequest } from '../../upstream/transport.js';
import type { ProviderIssue } from '../types.js';
import type { LocalRequest } from './wire.js';

/**
 * The local model takes the conversation as plain turns; its chat template (from the GGUF file)
 * renders them. Tools are not offered, so tool turns in the history are refused up front: the
 * template could not render them faithfully.
 */
export function validateLocalRequest(request: ChatRequest): ProviderIssue | undefined {
  for (const [index, message] of request.messages.entries()) {
    if (message.role === 'tool' || (message.tool_calls?.length ?? 0) > 0) {
      return {
        code: 'invalid_request',
        message: 'the local provider does not support tools: its history cannot hold tool calls or results',
        field: `messages.${index}`,
      };
    }
  }
  return undefined;
}

/** The request as the engine reads it. Pure; `url` only names the model (no network is involved). */
export function buildLocalRequest(request: ChatRequest, model: string): UpstreamRequest {
  const body: LocalRequest = {
    messages: request.messages.map((message) => ({
      role: message.role === 'tool' ? 'user' : message.role,
      text: message.content ?? '',
    })),
    temperature: request.temperature ?? null,
    maxTokens: request.max_tokens ?? null,
    thinkingBudget: request.thinking_budget ?? null,
  };
  return { url: `local:${encodeURIComponent(model)}`, headers: {}, body: JSON.stringify(body) };
}
