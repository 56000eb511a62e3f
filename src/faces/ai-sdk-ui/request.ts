import { RequestError } from '../../core/errors.js';
import { type ModelCatalog, resolveModelName } from '../openai/models.js';

/**
 * A `useChat` request body (the AI SDK's `DefaultChatTransport`: `{id, messages, trigger,
 * messageId, ...body}`) onto the native request (CONTRACT.md section 9). UI messages carry
 * `parts`; the request fields of section 8 sit at the top level, where `useChat`'s `body` option
 * puts them. `provider` may be left out when `model` names it as on the OpenAI-compatible API
 * (`"anthropic/claude-sonnet-4-5"`).
 */

/** Fields of the transport's own, not of the chat request. */
const TRANSPORT_FIELDS = new Set(['id', 'messages', 'trigger', 'messageId']);

type JsonObject = Record<string, unknown>;

const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

interface NativeToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** Where each native message came from, to name the UI message a refusal is about. */
interface Converted {
  messages: JsonObject[];
  origins: number[];
}

/** The tool name of a tool part: `tool-<name>` for tools the client declared, `dynamic-tool` parts name it. */
function toolNameOf(part: JsonObject): string | undefined {
  const type = String(part.type);
  if (type === 'dynamic-tool') return typeof part.toolName === 'string' ? part.toolName : undefined;
  return type.startsWith('tool-') ? type.slice('tool-'.length) : undefined;
}

/** A tool's output as the text of a tool message. */
function outputText(part: JsonObject): string | undefined {
  if (part.state === 'output-available') {
    return typeof part.output === 'string' ? part.output : JSON.stringify(part.output ?? null);
  }
  if (part.state === 'output-error') return `Error: ${String(part.errorText ?? 'the tool failed')}`;
  // Calls still waiting for their output (or denied) cannot be sent: providers want a result for every call.
  return undefined;
}

/**
 * An assistant UI message onto native turns: one assistant turn (text and tool calls) per step
 * (`step-start` parts separate steps), each followed by the results of its tool calls.
 */
function assistantTurns(parts: readonly JsonObject[], origin: number, into: Converted): void {
  let text: string[] = [];
  let calls: NativeToolCall[] = [];
  let results: JsonObject[] = [];
  const flush = (): void => {
    if (text.length === 0 && calls.length === 0) return;
    // A turn that only calls tools has no content, as in Chat Completions.
    const turn: JsonObject = { role: 'assistant', content: text.length === 0 ? null : text.join('') };
    if (calls.length > 0) turn.tool_calls = calls;
    into.messages.push(turn, ...results);
    for (let count = 0; count <= results.length; count++) into.origins.push(origin);
    text = [];
    calls = [];
    results = [];
  };
  for (const part of parts) {
    if (part.type === 'step-start') flush();
    else if (part.type === 'text' && typeof part.text === 'string') text.push(part.text);
    else {
      const name = toolNameOf(part);
      const result = name === undefined ? undefined : outputText(part);
      if (name === undefined || result === undefined || typeof part.toolCallId !== 'string') continue;
      const input = part.input === undefined ? {} : part.input;
      calls.push({
        id: part.toolCallId,
        type: 'function',
        function: { name, arguments: JSON.stringify(input) },
      });
      results.push({ role: 'tool', tool_call_id: part.toolCallId, content: result });
    }
  }
  flush();
}

function convertMessages(messages: readonly unknown[]): Converted {
  const converted: Converted = { messages: [], origins: [] };
  for (const [position, message] of messages.entries()) {
    if (!isObject(message) || !Array.isArray(message.parts)) {
      throw new RequestError(
        'invalid_request',
        `messages.${position} must be a UI message with parts`,
        `messages.${position}`,
      );
    }
    const parts = message.parts.filter(isObject);
    if (message.role === 'assistant') {
      assistantTurns(parts, position, converted);
      continue;
    }
    const texts: string[] = [];
    for (const [index, part] of parts.entries()) {
      if (part.type === 'text' && typeof part.text === 'string') texts.push(part.text);
      // A file (an image, a PDF) cannot be passed on as text: refused rather than dropped.
      else if (part.type === 'file') {
        throw new RequestError(
          'invalid_request',
          'file parts are not supported; send text parts',
          `messages.${position}.parts.${index}`,
        );
      }
    }
    // The role is the native validation's to check.
    converted.messages.push({ role: message.role, content: texts.join('') });
    converted.origins.push(position);
  }
  return converted;
}

export interface AdaptedUiRequest {
  native: JsonObject;
  /** The UI body's name of a native field, for a refusal. */
  field(nativeField: string | undefined): string | undefined;
}

export function adaptUiRequest(body: unknown, catalog: ModelCatalog): AdaptedUiRequest {
  if (!isObject(body)) throw new RequestError('invalid_request', 'the request body must be a JSON object');
  const native: JsonObject = {};
  for (const [key, value] of Object.entries(body)) if (!TRANSPORT_FIELDS.has(key)) native[key] = value;
  if (native.provider === undefined && typeof native.model === 'string') {
    const choice = resolveModelName(native.model, catalog);
    if (choice === undefined) {
      throw new RequestError(
        'model_not_supported',
        `The model "${native.model}" is not served by this gateway`,
        'model',
      );
    }
    native.provider = choice.provider;
    native.model = choice.model;
  }
  let origins: number[] = [];
  if (body.messages !== undefined) {
    if (!Array.isArray(body.messages)) {
      throw new RequestError('invalid_request', 'messages must be an array of UI messages', 'messages');
    }
    const converted = convertMessages(body.messages);
    native.messages = converted.messages;
    origins = converted.origins;
  }
  return {
    native,
    field(nativeField) {
      const match = nativeField === undefined ? null : /^messages\.(\d+)(.*)$/.exec(nativeField);
      if (match === null) return nativeField;
      const origin = origins[Number(match[1])];
      return origin === undefined ? nativeField : `messages.${origin}`;
    },
  };
}
