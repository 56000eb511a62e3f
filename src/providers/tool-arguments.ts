import { isNonArrayObject, type JsonObject } from '../core/json.js';
import type { ChatMessage } from '../protocol/request.js';
import type { ProviderIssue } from './types.js';

/**
 * A tool call's arguments (Chat Completions JSON text) as the object that Anthropic's
 * `tool_use.input`, Gemini's `functionCall.args` and Ollama's `arguments` must be. Empty text
 * means no arguments; anything that is not a JSON object gives undefined.
 */
export function parseToolArguments(text: string): JsonObject | undefined {
  if (text.trim().length === 0) return {};
  try {
    const parsed: unknown = JSON.parse(text);
    return isNonArrayObject(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/**
 * For providers that take arguments as objects: the first earlier tool call whose arguments
 * are not a JSON object, refused before the stream rather than by the provider mid-request.
 */
export function checkToolArguments(
  messages: readonly ChatMessage[],
  displayName: string,
): ProviderIssue | undefined {
  for (const [position, message] of messages.entries()) {
    for (const [callPosition, call] of (message.tool_calls ?? []).entries()) {
      if (parseToolArguments(call.function.arguments) === undefined) {
        const field = `messages.${position}.tool_calls.${callPosition}.function.arguments`;
        return {
          code: 'invalid_request',
          field,
          message: `${field} must be the JSON text of an object; ${displayName} takes tool call arguments as an object`,
        };
      }
    }
  }
  return undefined;
}
