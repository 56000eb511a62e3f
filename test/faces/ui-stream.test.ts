import { DefaultChatTransport, readUIMessageStream, type UIMessage } from 'ai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { nativeView, PROVIDER_CASES, WEATHER_TOOL } from '../helpers/native.js';

/**
 * The AI SDK's own client side of `useChat` (`DefaultChatTransport` sending UI messages, and
 * `readUIMessageStream` building the assistant message) against POST /api/v1/chat/ui.
 */

let harness: TestGateway;
beforeAll(async () => {
  harness = await startTestGateway({ maxRetries: 0 });
});
afterAll(() => harness.close());
beforeEach(() => harness.emulator.reset());

const UI_PATH = '/api/v1/chat/ui';

const userMessage = (text: string): UIMessage => ({
  id: `user-${text.length}`,
  role: 'user',
  parts: [{ type: 'text', text }],
});

interface Metadata {
  generation_id?: string;
  finish_reason?: string;
  // biome-ignore lint/suspicious/noExplicitAny: the contract's usage object
  usage?: any;
}

/** What `useChat` would hold once the stream ends, and the errors it would report. */
async function chat(
  body: Record<string, unknown>,
  messages: UIMessage[],
): Promise<{ message: UIMessage<Metadata>; errors: Error[] }> {
  const transport = new DefaultChatTransport<UIMessage<Metadata>>({ api: `${harness.url}${UI_PATH}`, body });
  const stream = await transport.sendMessages({
    chatId: 'chat-1',
    messages: messages as UIMessage<Metadata>[],
    trigger: 'submit-message',
    messageId: undefined,
    abortSignal: undefined,
  });
  const errors: Error[] = [];
  let message: UIMessage<Metadata> | undefined;
  for await (const snapshot of readUIMessageStream<UIMessage<Metadata>>({
    stream,
    onError: (error) => errors.push(error as Error),
  })) {
    message = snapshot;
  }
  if (message === undefined) throw new Error('no message');
  return { message, errors };
}

const partsText = (message: UIMessage, type: 'text' | 'reasoning'): string =>
  message.parts
    .filter((part) => part.type === type)
    .map((part) => (part as { text: string }).text)
    .join('');

describe.each(PROVIDER_CASES)('useChat transport -> $provider', ({ provider, model, reasons }) => {
  it('builds the assistant message: text, reasoning, usage as the native stream has them', async () => {
    const thinking = reasons ? { thinking_budget: 1024 } : {};
    const { message, errors } = await chat(
      { provider, model: model.slice(provider.length + 1), ...thinking },
      [userMessage('Why is the sky blue?')],
    );
    expect(errors).toEqual([]);
    const native = await nativeView(harness.url, message.id);
    expect(message.role).toBe('assistant');
    expect(message.metadata?.generation_id).toBe(message.id);
    expect(partsText(message, 'text')).toBe(native.text);
    expect(native.text.length).toBeGreaterThan(0);
    expect(partsText(message, 'reasoning')).toBe(native.thinking);
    if (reasons) expect(native.thinking.length).toBeGreaterThan(0);
    expect(message.metadata?.finish_reason).toBe(native.finishReason);
    expect(message.metadata?.usage).toEqual(native.usage);
  });

  it('builds tool parts from the tool calls, the model named as on /v1', async () => {
    const { message } = await chat({ model, tools: [WEATHER_TOOL] }, [userMessage('Weather in Paris?')]);
    const native = await nativeView(harness.url, message.id);
    const toolParts = message.parts.filter((part) => part.type.startsWith('tool-'));
    expect(native.toolCalls.length).toBeGreaterThan(0);
    expect(toolParts).toEqual(
      native.toolCalls.map((call) =>
        expect.objectContaining({
          type: `tool-${call.name}`,
          toolCallId: call.id,
          state: 'input-available',
          input: JSON.parse(call.arguments),
        }),
      ),
    );
    expect(message.metadata?.finish_reason).toBe('tool_calls');
  });
});

describe('POST /api/v1/chat/ui', () => {
  it('answers with the protocol header and ends with [DONE]', async () => {
    const response = await fetch(`${harness.url}${UI_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        id: 'c',
        provider: 'openai',
        messages: [userMessage('Hi')],
        trigger: 'submit-message',
      }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-vercel-ai-ui-message-stream')).toBe('v1');
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const raw = await response.text();
    expect(raw).toMatch(/^(data: [^\n]+\n\n)+$/);
    expect(raw.endsWith('data: [DONE]\n\n')).toBe(true);
    const types = raw
      .split('\n\n')
      .filter((block) => block.startsWith('data: {'))
      .map((block) => (JSON.parse(block.slice(6)) as { type: string }).type);
    expect(types.slice(0, 3)).toEqual(['start', 'start-step', 'text-start']);
    expect(types.slice(-3)).toEqual(['text-end', 'finish-step', 'finish']);
  });

  it('sends earlier turns on: assistant text, tool calls with their outputs, across steps', async () => {
    const history: UIMessage[] = [
      { id: 's', role: 'system', parts: [{ type: 'text', text: 'Be brief.' }] },
      userMessage('Weather in Paris?'),
      {
        id: 'a',
        role: 'assistant',
        parts: [
          { type: 'step-start' },
          { type: 'reasoning', text: 'I should look it up.' },
          {
            type: 'tool-get_weather',
            toolCallId: 'call_1',
            state: 'output-available',
            input: { location: 'Paris' },
            output: { celsius: 21 },
          },
          { type: 'step-start' },
          { type: 'text', text: 'It is 21 °C.' },
        ],
      },
      userMessage('And tomorrow?'),
    ];
    const { errors } = await chat({ provider: 'openai', tools: [WEATHER_TOOL] }, history);
    expect(errors).toEqual([]);
    const sent = harness.emulator.stats('openai').bodies.at(-1) as { messages: unknown[] };
    expect(sent.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Weather in Paris?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: 'call_1',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"location":"Paris"}' },
          },
        ],
      },
      { role: 'tool', content: '{"celsius":21}', tool_call_id: 'call_1' },
      { role: 'assistant', content: 'It is 21 °C.' },
      { role: 'user', content: 'And tomorrow?' },
    ]);
  });

  it('reports a failure mid-answer as an error the reader sees, after the text before it', async () => {
    harness.emulator.enqueue('anthropic', { chunks: 8, fault: { type: 'midstream_error', afterChunks: 3 } });
    const { message, errors } = await chat({ provider: 'anthropic' }, [userMessage('Hi')]);
    const native = await nativeView(harness.url, message.id);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toBe(`${native.error.code}: ${native.error.message}`);
    expect(partsText(message, 'text')).toBe(native.text);
    expect(message.metadata?.finish_reason).toBe('error');
  });

  it('refuses a bad request with the contract JSON, naming the UI message', async () => {
    const transport = new DefaultChatTransport({
      api: `${harness.url}${UI_PATH}`,
      body: { provider: 'openai' },
    });
    const refused = await transport
      .sendMessages({
        chatId: 'c',
        messages: [
          userMessage('Hi'),
          { id: 'x', role: 'user', parts: [{ type: 'file', mediaType: 'image/png', url: 'data:,' }] },
        ],
        trigger: 'submit-message',
        messageId: undefined,
        abortSignal: undefined,
      })
      .catch((error: unknown) => error as Error);
    expect(refused).toBeInstanceOf(Error);
    expect(JSON.parse((refused as Error).message).error).toMatchObject({
      code: 'invalid_request',
      field: 'messages.1.parts.0',
    });
    const response = await fetch(`${harness.url}${UI_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        provider: 'openai',
        messages: [{ id: 'm', role: 'robot', parts: [{ type: 'text', text: 'x' }] }],
      }),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { field: string } }).error.field).toBe('messages.0');
  });
});
