import type { ChatMessage } from '../protocol/request.js';
import type { ProviderIssue } from './types.js';

/**
 * Anthropic and Gemini put system messages beside the conversation (`system`,
 * `systemInstruction`), so a request made of system messages alone reaches them with no turn at
 * all: Anthropic answers 400 "messages: at least one message is required", Gemini 400
 * "contents is not specified".
 */
export function requireTurn(
  messages: readonly ChatMessage[],
  displayName: string,
): ProviderIssue | undefined {
  if (messages.some((message) => message.role !== 'system')) return undefined;
  return {
    code: 'invalid_request',
    field: 'messages',
    message: `${displayName} needs at least one user or assistant message; system messages alone are not a conversation`,
  };
}

/** The text a user or assistant turn sends; a tool-calling assistant turn may have none. */
export function turnText(message: ChatMessage): string | undefined {
  if (message.role === 'user') return message.content ?? '';
  if (message.role === 'assistant' && !message.tool_calls?.length) return message.content ?? '';
  return undefined;
}
