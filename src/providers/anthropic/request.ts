import { type ChatMessage, type ChatRequest, parseToolArguments } from '../../protocol/request.js';
import type { UpstreamRequest } from '../../upstream/transport.js';
import { requireTurn, turnText } from '../conversation.js';
import { reasoningItems } from '../reasoning-state.js';
import type { ProviderIssue, ProviderSettings } from '../types.js';
import { anthropicOutputLimit } from './models.js';

/**
 * The contract's chat request onto `POST /v1/messages` (docs/wire.md §2.1). Pure: no I/O.
 */

const ANTHROPIC_VERSION = '2023-06-01';
/** Anthropic requires `max_tokens`; this is sent when the request names none. */
const DEFAULT_MAX_TOKENS = 4096;
/** Anthropic's smallest accepted `thinking.budget_tokens`. */
const MIN_THINKING_BUDGET = 1024;

type ContentBlock =
  | { type: 'thinking'; thinking: string; signature: string }
  | { type: 'redacted_thinking'; data: string }
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> }
  | { type: 'tool_result'; tool_use_id: string; content: string };

interface AnthropicMessage {
  role: 'user' | 'assistant';
  content: string | ContentBlock[];
}

/**
 * Extended thinking exists on Claude 3.7 and every Claude generation from 4 on, whatever the
 * family name (claude-sonnet-4-5, claude-opus-4-1, claude-haiku-4-5, claude-4-opus, ...);
 * Claude 3.5, 3 and older cannot reason.
 */
export function isAnthropicReasoningModel(model: string): boolean {
  const name = model.toLowerCase();
  if (name.startsWith('claude-3-7')) return true;
  const generation = /^claude-(?:[a-z]+-)?(\d+)(?:[-.@]|$)/.exec(name)?.[1];
  return generation !== undefined && Number(generation) >= 4 && Number(generation) < 100;
}

/**
 * Provider rules the contract's schema does not know (CONTRACT.md section 2): refused with a 400
 * naming the field before any stream starts.
 */
export function validateAnthropicRequest(request: ChatRequest, model: string): ProviderIssue | undefined {
  const { temperature, max_tokens: maxTokens, thinking_budget: budget } = request;
  const limit = anthropicOutputLimit(model);
  if (temperature !== undefined && temperature > 1) {
    return {
      code: 'invalid_request',
      field: 'temperature',
      message: `Anthropic accepts a temperature between 0 and 1 (got ${temperature})`,
    };
  }
  if (budget !== undefined && budget > 0) {
    if (budget < MIN_THINKING_BUDGET) {
      return {
        code: 'invalid_request',
        field: 'thinking_budget',
        message: `Anthropic requires a thinking_budget of at least ${MIN_THINKING_BUDGET} tokens (got ${budget}); use 0 to turn reasoning off`,
      };
    }
    if (limit !== undefined && budget >= limit) {
      return {
        code: 'invalid_request',
        field: 'thinking_budget',
        message: `Anthropic requires thinking_budget to be less than max_tokens, and ${model} writes at most ${limit} output tokens (got ${budget})`,
      };
    }
    if (maxTokens !== undefined && budget >= maxTokens) {
      return {
        code: 'invalid_request',
        field: 'thinking_budget',
        message: `Anthropic requires thinking_budget (${budget}) to be less than max_tokens (${maxTokens})`,
      };
    }
    if (temperature !== undefined && temperature !== 1) {
      return {
        code: 'invalid_request',
        field: 'temperature',
        message: `Anthropic extended thinking only works with temperature 1 or unset (got ${temperature})`,
      };
    }
  }
  return (
    requireTurn(request.messages, 'Anthropic') ??
    checkTurnTexts(request.messages) ??
    (budget !== undefined && budget > 0 ? checkSignedThinking(request.messages) : undefined)
  );
}

/**
 * With thinking on, Anthropic refuses a conversation that ends in tool results unless the
 * assistant turn that called the tools starts with its signed thinking block ("a final
 * `assistant` message must start with a thinking block"): that turn needs its
 * `reasoning_state` back.
 */
function checkSignedThinking(messages: readonly ChatMessage[]): ProviderIssue | undefined {
  if (messages.at(-1)?.role !== 'tool') return undefined;
  const position = messages.findLastIndex((message) => message.role === 'assistant');
  const assistant = messages[position];
  if (assistant === undefined || thinkingBlocks(assistant).length > 0) return undefined;
  return {
    code: 'invalid_request',
    field: `messages.${position}.reasoning_state`,
    message: `messages.${position}.reasoning_state is missing: with thinking on, Anthropic needs the signed thinking blocks of the assistant turn whose tool results follow; send back that turn's reasoning_state (from its done frame), or use thinking_budget 0`,
  };
}

/**
 * Anthropic refuses a turn without text ("messages.N: all messages must have non-empty content
 * except for the optional final assistant message") and text that is only whitespace ("text
 * content blocks must contain non-whitespace text"). An empty final assistant turn is a prefill
 * and allowed.
 */
function checkTurnTexts(messages: readonly ChatMessage[]): ProviderIssue | undefined {
  for (const [position, message] of messages.entries()) {
    const text = turnText(message);
    if (text === undefined || text.trim().length > 0) continue;
    if (text === '' && message.role === 'assistant' && position === messages.length - 1) continue;
    return {
      code: 'invalid_request',
      field: `messages.${position}.content`,
      message: `messages.${position}.content is ${text === '' ? 'empty' : 'only whitespace'}; Anthropic needs text in every turn but an empty final assistant turn`,
    };
  }
  return undefined;
}

/**
 * The thinking blocks an assistant turn came with, from its `reasoning_state`, as Anthropic wants
 * them back: unchanged (text and signature, or the redacted `data`), before the turn's other
 * blocks. With thinking on, a tool-result turn is refused unless the assistant turn before it
 * starts with its signed thinking block.
 */
function thinkingBlocks(message: ChatMessage): ContentBlock[] {
  const blocks: ContentBlock[] = [];
  for (const item of reasoningItems(message.reasoning_state, 'anthropic')) {
    if (item.type === 'thinking' && typeof item.thinking === 'string' && typeof item.signature === 'string') {
      blocks.push({ type: 'thinking', thinking: item.thinking, signature: item.signature });
    } else if (item.type === 'redacted_thinking' && typeof item.data === 'string') {
      blocks.push({ type: 'redacted_thinking', data: item.data });
    }
  }
  return blocks;
}

/**
 * System messages go to the top-level `system` field; tool results become `tool_result` blocks in
 * a user turn, and results that follow each other share one turn, since Anthropic wants every
 * result of an assistant turn's tool calls in the very next user message.
 */
function toAnthropicMessages(messages: readonly ChatMessage[]): {
  system: string | undefined;
  messages: AnthropicMessage[];
} {
  const system: string[] = [];
  const converted: AnthropicMessage[] = [];
  for (const message of messages) {
    const content = message.content ?? '';
    switch (message.role) {
      case 'system':
        if (content.trim().length > 0) system.push(content);
        break;
      case 'user':
        converted.push({ role: 'user', content });
        break;
      case 'assistant': {
        const calls = message.tool_calls ?? [];
        const thinking = thinkingBlocks(message);
        if (calls.length === 0 && thinking.length === 0) {
          converted.push({ role: 'assistant', content });
          break;
        }
        // Anthropic refuses empty and blank text blocks, so text comes only when there is some.
        const blocks: ContentBlock[] = [...thinking];
        if (content.trim().length > 0) blocks.push({ type: 'text', text: content });
        for (const call of calls) {
          blocks.push({
            type: 'tool_use',
            id: call.id,
            name: call.function.name,
            input: parseToolArguments(call.function.arguments) ?? {},
          });
        }
        converted.push({ role: 'assistant', content: blocks });
        break;
      }
      case 'tool': {
        const result: ContentBlock = {
          type: 'tool_result',
          tool_use_id: message.tool_call_id ?? '',
          content,
        };
        const previous = converted.at(-1);
        const merge =
          previous?.role === 'user' &&
          Array.isArray(previous.content) &&
          previous.content.every((block) => block.type === 'tool_result');
        if (merge && Array.isArray(previous.content)) previous.content.push(result);
        else converted.push({ role: 'user', content: [result] });
        break;
      }
      default: {
        const exhaustive: never = message.role;
        throw new Error(`unknown role ${String(exhaustive)}`);
      }
    }
  }
  return { system: system.length > 0 ? system.join('\n\n') : undefined, messages: converted };
}

export function buildAnthropicRequest(
  request: ChatRequest,
  model: string,
  settings: ProviderSettings,
): UpstreamRequest {
  const { system, messages } = toAnthropicMessages(request.messages);
  const budget = request.thinking_budget;
  const thinking = budget !== undefined && budget > 0;
  // Thinking tokens count against max_tokens, so the default leaves room for an answer, within
  // what the model writes at most (validation keeps the budget below that).
  const defaultMaxTokens = thinking ? budget + DEFAULT_MAX_TOKENS : DEFAULT_MAX_TOKENS;
  const body: Record<string, unknown> = {
    model,
    max_tokens:
      request.max_tokens ?? Math.min(defaultMaxTokens, anthropicOutputLimit(model) ?? defaultMaxTokens),
    messages,
    stream: true,
  };
  if (system !== undefined) body.system = system;
  if (request.temperature !== undefined) body.temperature = request.temperature;
  // A budget of 0 (off) and no budget (model default) both mean no `thinking` field: Anthropic
  // models do not reason unless asked to.
  if (thinking) body.thinking = { type: 'enabled', budget_tokens: budget };
  if (request.tools?.length) {
    body.tools = request.tools.map((tool) => ({
      name: tool.function.name,
      ...(tool.function.description !== undefined ? { description: tool.function.description } : {}),
      // Anthropic requires an object schema; OpenAI-style tools may leave `type` implicit.
      input_schema: { type: 'object', ...(tool.function.parameters ?? { properties: {} }) },
    }));
  }
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'text/event-stream',
    'anthropic-version': ANTHROPIC_VERSION,
  };
  if (settings.apiKey) headers['x-api-key'] = settings.apiKey;
  return {
    url: `${settings.baseUrl.replace(/\/+$/, '')}/v1/messages`,
    headers,
    body: JSON.stringify(body),
  };
}
