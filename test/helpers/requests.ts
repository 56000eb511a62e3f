import type { ChatRequest } from '../../src/protocol/request.js';

/** A validated chat request as the gateway hands it to a provider, with the schema's defaults. */
export function chatRequest(fields: Partial<ChatRequest> & { provider: string }): ChatRequest {
  return {
    model: undefined,
    messages: [{ role: 'user', content: 'Hello' }],
    temperature: undefined,
    max_tokens: undefined,
    thinking_budget: undefined,
    include_thinking: true,
    tools: undefined,
    token_budget: undefined,
    fallbacks: [],
    recover: false,
    cancel_on_disconnect: false,
    ...fields,
  };
}
