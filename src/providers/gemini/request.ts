import {
  type ChatMessage,
  type ChatRequest,
  type JsonObject,
  parseJsonObject,
  parseToolArguments,
  type ToolDefinition,
} from '../../protocol/request.js';
import type { UpstreamRequest } from '../../upstream/transport.js';
import { requireTurn, turnText } from '../conversation.js';
import { reasoningItems } from '../reasoning-state.js';
import type { ProviderIssue, ProviderSettings } from '../types.js';
import { geminiModelId, geminiModelTraits, needsThoughtSignature } from './models.js';
import { toGeminiSchema } from './schema.js';

/** The request side of `models/{model}:streamGenerateContent` (docs/wire.md §3.1). */

export type GeminiPart =
  | { text: string; thoughtSignature?: string }
  | { functionCall: { name: string; args: JsonObject }; thoughtSignature?: string }
  | { functionResponse: { name: string; response: JsonObject } };

interface GeminiContent {
  role: 'user' | 'model';
  parts: GeminiPart[];
}

/** Google's documented sentinel for a function call replayed without its real signature. */
export const SKIP_SIGNATURE = 'skip_thought_signature_validator';

/**
 * A tool result as a `functionResponse.response` (a Struct): the JSON object itself, else (plain
 * text, the common case, or JSON too deep to send on) wrapped as text.
 */
function toolResponse(content: string): JsonObject {
  return parseJsonObject(content) ?? { result: content };
}

/**
 * Gemini's `functionResponse` needs the function's name, which the contract's tool messages do
 * not carry: it comes from the latest earlier assistant call with the same id (ids may repeat
 * across turns when they were generated as `call_0`, `call_1`, ...). One entry per message.
 */
function toolNamesByMessage(messages: readonly ChatMessage[]): (string | undefined)[] {
  const names = new Map<string, string>();
  return messages.map((message) => {
    if (message.role === 'assistant') {
      for (const call of message.tool_calls ?? []) names.set(call.id, call.function.name);
    }
    return message.role === 'tool' ? names.get(message.tool_call_id ?? '') : undefined;
  });
}

/**
 * Message-level rules Gemini enforces that the generic schema cannot know: a turn to answer, no
 * empty text (an empty part is 400 "required oneof field 'data' must have one initialized
 * field", a turn without parts 400 "contents.parts must not be empty"), and a known function
 * name for every tool result.
 */
export function checkGeminiMessages(messages: readonly ChatMessage[]): ProviderIssue | undefined {
  const noTurn = requireTurn(messages, 'Gemini');
  if (noTurn !== undefined) return noTurn;
  const names = toolNamesByMessage(messages);
  for (const [position, message] of messages.entries()) {
    if (turnText(message) === '') {
      return {
        code: 'invalid_request',
        field: `messages.${position}.content`,
        message: `messages.${position}.content is empty; Gemini refuses a ${message.role} turn without text`,
      };
    }
    if (message.role === 'tool' && names[position] === undefined) {
      return {
        code: 'invalid_request',
        field: `messages.${position}.tool_call_id`,
        message: `messages.${position}.tool_call_id "${message.tool_call_id}" matches no earlier assistant tool call; Gemini needs the function name of every tool result`,
      };
    }
  }
  return undefined;
}

/**
 * The thought signatures an assistant turn came with (its `reasoning_state`): the ones of its
 * function calls by call index, and the one of its answer text. Thought-summary signatures are
 * not kept: summaries are not sent back.
 */
function signaturesOf(message: ChatMessage): { calls: Map<number, string>; text: string | undefined } {
  const calls = new Map<number, string>();
  let text: string | undefined;
  for (const item of reasoningItems(message.reasoning_state, 'gemini')) {
    if (typeof item.signature !== 'string' || item.signature.length === 0) continue;
    if (item.part === 'function_call' && typeof item.index === 'number')
      calls.set(item.index, item.signature);
    else if (item.part === 'text') text ??= item.signature;
  }
  return { calls, text };
}

/**
 * Contract messages -> `systemInstruction` + `contents`. Roles become `user`/`model`, tool
 * results become `functionResponse` parts of a user turn, and consecutive turns of one role are
 * merged (parallel tool results must arrive together in one turn). Empty text parts are left
 * out, because Gemini refuses them.
 */
function toGeminiContents(
  messages: readonly ChatMessage[],
  model: string,
): { systemInstruction: { parts: { text: string }[] } | undefined; contents: GeminiContent[] } {
  const system: { text: string }[] = [];
  const contents: GeminiContent[] = [];
  const names = toolNamesByMessage(messages);
  const signature = needsThoughtSignature(model);
  const append = (role: GeminiContent['role'], parts: GeminiPart[]): void => {
    if (parts.length === 0) return;
    const last = contents.at(-1);
    if (last?.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  };
  for (const [position, message] of messages.entries()) {
    const text = message.content ?? '';
    const textParts: GeminiPart[] = text.length > 0 ? [{ text }] : [];
    switch (message.role) {
      case 'system':
        if (text.length > 0) system.push({ text });
        break;
      case 'user':
        append('user', textParts);
        break;
      case 'assistant': {
        const signatures = signaturesOf(message);
        // Each part goes back with the signature it came with; a Gemini 3 call replayed without
        // its own carries Google's documented bypass value instead.
        const calls = (message.tool_calls ?? []).map((call, index): GeminiPart => {
          const thoughtSignature = signatures.calls.get(index) ?? (signature ? SKIP_SIGNATURE : undefined);
          return {
            functionCall: {
              name: call.function.name,
              args: parseToolArguments(call.function.arguments) ?? {},
            },
            ...(thoughtSignature !== undefined ? { thoughtSignature } : {}),
          };
        });
        const answer: GeminiPart[] =
          text.length === 0
            ? []
            : [signatures.text === undefined ? { text } : { text, thoughtSignature: signatures.text }];
        append('model', [...answer, ...calls]);
        break;
      }
      case 'tool':
        append('user', [
          {
            functionResponse: {
              name: names[position] ?? message.tool_call_id ?? 'tool',
              response: toolResponse(text),
            },
          },
        ]);
        break;
      default: {
        const exhaustive: never = message.role;
        throw new Error(`unknown role ${String(exhaustive)}`);
      }
    }
  }
  return { systemInstruction: system.length > 0 ? { parts: system } : undefined, contents };
}

/**
 * `thinking_budget` -> `thinkingConfig`. Models that cannot reason get none (2.0 rejects it).
 * `thinkingBudget: 0` turns thinking off; otherwise thought summaries are asked for, with the
 * budget when one is given and Gemini's dynamic budget when not.
 */
export function thinkingConfig(
  request: ChatRequest,
  model: string,
): { thinkingBudget?: number; includeThoughts?: boolean } | undefined {
  if (!geminiModelTraits(model).reasoning) return undefined;
  const budget = request.thinking_budget;
  if (budget === 0) return { thinkingBudget: 0 };
  if (budget === undefined) return { includeThoughts: true };
  return { thinkingBudget: budget, includeThoughts: true };
}

function toFunctionDeclaration(tool: ToolDefinition): JsonObject {
  const parameters = toGeminiSchema(tool.function.parameters, true);
  return {
    name: tool.function.name,
    ...(tool.function.description !== undefined ? { description: tool.function.description } : {}),
    ...(parameters !== undefined ? { parameters } : {}),
  };
}

function buildGeminiBody(request: ChatRequest, model: string): JsonObject {
  const { systemInstruction, contents } = toGeminiContents(request.messages, model);
  const body: JsonObject = { contents };
  if (systemInstruction !== undefined) body.systemInstruction = systemInstruction;
  const generationConfig: JsonObject = {};
  if (request.temperature !== undefined) generationConfig.temperature = request.temperature;
  if (request.max_tokens !== undefined) generationConfig.maxOutputTokens = request.max_tokens;
  const thinking = thinkingConfig(request, model);
  if (thinking !== undefined) generationConfig.thinkingConfig = thinking;
  if (Object.keys(generationConfig).length > 0) body.generationConfig = generationConfig;
  if (request.tools?.length)
    body.tools = [{ functionDeclarations: request.tools.map(toFunctionDeclaration) }];
  return body;
}

export function buildGeminiRequest(
  request: ChatRequest,
  model: string,
  settings: ProviderSettings,
): UpstreamRequest {
  // The key travels in a header, never in `?key=`: URLs end up in logs and error messages.
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'text/event-stream',
  };
  if (settings.apiKey) headers['x-goog-api-key'] = settings.apiKey;
  const base = settings.baseUrl.replace(/\/+$/, '');
  const path = `/v1beta/models/${encodeURIComponent(geminiModelId(model))}:streamGenerateContent?alt=sse`;
  return { url: `${base}${path}`, headers, body: JSON.stringify(buildGeminiBody(request, model)) };
}
