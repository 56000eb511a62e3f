import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { invariantViolation, postStream, type StreamResult, textOf } from '../helpers/sse.js';

/**
 * Reasoning round-trips: `done.reasoning_state` carries what the provider needs back next turn
 * (Anthropic's signed thinking blocks, Gemini's thought signatures), and an assistant message
 * that sends it back gets it to the provider in the provider's own form.
 */

let harness: TestGateway;
beforeAll(async () => {
  harness = await startTestGateway();
});
afterAll(() => harness.close());
beforeEach(() => harness.emulator.reset());

const TOOLS = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Weather for a city',
      parameters: { type: 'object', properties: { location: { type: 'string' } } },
    },
  },
];
const QUESTION = { role: 'user', content: 'What is the weather in Paris?' };

/** The second turn: the first turn's tool call (and its reasoning_state, when given), then the result. */
function secondTurn(first: StreamResult, reasoningState?: unknown): Record<string, unknown>[] {
  const call = first.frames.find((frame) => frame.event === 'tool_call')?.data;
  const assistant: Record<string, unknown> = {
    role: 'assistant',
    content: null,
    tool_calls: [{ id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } }],
  };
  if (reasoningState !== undefined) assistant.reasoning_state = reasoningState;
  return [QUESTION, assistant, { role: 'tool', tool_call_id: call.id, content: '{"temp": 21}' }];
}

async function resultOf(stream: StreamResult): Promise<Record<string, unknown>> {
  const id = stream.headers.get('x-generation-id');
  return (await fetch(`${harness.url}/api/v1/generations/${id}`)).json();
}

describe('Anthropic: signed thinking blocks', () => {
  const base = { provider: 'anthropic', model: 'claude-sonnet-4-5', thinking_budget: 1024, tools: TOOLS };

  it('a two-turn tool conversation with thinking: the blocks go back, signed, before the tool_use', async () => {
    harness.emulator.enqueue('anthropic', { thinkingChunks: 6 });
    const first = await postStream(harness.url, { ...base, messages: [QUESTION] });
    expect(invariantViolation(first)).toBeUndefined();
    const done = first.frames.at(-1)?.data;
    expect(done.finish_reason).toBe('tool_calls');
    expect(done.reasoning_state).toMatchObject({
      provider: 'anthropic',
      model: 'claude-sonnet-4-5',
      items: [
        { type: 'thinking', thinking: textOf(first.frames, 'thinking'), signature: expect.any(String) },
      ],
    });
    expect((await resultOf(first)).reasoning_state).toEqual(done.reasoning_state);

    harness.emulator.enqueue('anthropic', { toolCall: false, thinkingChunks: 3 });
    const second = await postStream(harness.url, {
      ...base,
      messages: secondTurn(first, done.reasoning_state),
    });
    expect(invariantViolation(second)).toBeUndefined();
    expect(second.frames.map((frame) => frame.event)).not.toContain('error');
    expect(second.frames.at(-1)?.data.finish_reason).toBe('stop');
    expect(textOf(second.frames).length).toBeGreaterThan(0);

    const sent = harness.emulator.stats('anthropic').bodies.at(-1) as { messages: { content: unknown }[] };
    const [thinking, toolUse] = (sent.messages[1]?.content ?? []) as Record<string, unknown>[];
    expect(thinking).toEqual(done.reasoning_state.items[0]);
    expect(toolUse).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { location: 'Paris' } });
  });

  it('without the reasoning_state the second turn is refused before the stream, naming the message', async () => {
    harness.emulator.enqueue('anthropic', { thinkingChunks: 4 });
    const first = await postStream(harness.url, { ...base, messages: [QUESTION] });
    const refused = await postStream(harness.url, { ...base, messages: secondTurn(first) });
    expect(refused.status).toBe(400);
    expect(refused.json.error).toMatchObject({
      code: 'invalid_request',
      field: 'messages.1.reasoning_state',
    });
    expect(harness.emulator.stats('anthropic').requests).toBe(1);
    // With thinking off the same conversation needs no blocks.
    harness.emulator.enqueue('anthropic', { toolCall: false });
    const plain = await postStream(harness.url, { ...base, thinking_budget: 0, messages: secondTurn(first) });
    expect(plain.frames.at(-1)?.data.finish_reason).toBe('stop');
  });

  it('a block whose text was changed is refused by the emulator as Anthropic refuses it', async () => {
    harness.emulator.enqueue('anthropic', { thinkingChunks: 4 });
    const first = await postStream(harness.url, { ...base, messages: [QUESTION] });
    const state = structuredClone(first.frames.at(-1)?.data.reasoning_state);
    state.items[0].thinking = `${state.items[0].thinking} (edited)`;
    const second = await postStream(harness.url, { ...base, messages: secondTurn(first, state) });
    expect(second.frames.at(-2)?.data).toMatchObject({ code: 'bad_request' });
    expect(second.frames.at(-2)?.data.message).toContain('Invalid `signature`');
  });

  it('another provider ignores an Anthropic reasoning_state; a stream without reasoning has none', async () => {
    harness.emulator.enqueue('anthropic', { thinkingChunks: 4 });
    const first = await postStream(harness.url, { ...base, messages: [QUESTION] });
    harness.emulator.enqueue('openai', { toolCall: false });
    const elsewhere = await postStream(harness.url, {
      provider: 'openai',
      tools: TOOLS,
      messages: secondTurn(first, first.frames.at(-1)?.data.reasoning_state),
    });
    expect(elsewhere.frames.at(-1)?.data).toMatchObject({ finish_reason: 'stop', reasoning_state: null });
    const sent = JSON.stringify(harness.emulator.stats('openai').bodies.at(-1));
    expect(sent).not.toContain('signature');
  });

  it('reasoning_state is accepted on assistant messages only', async () => {
    const result = await postStream(harness.url, {
      provider: 'openai',
      messages: [{ role: 'user', content: 'Hi', reasoning_state: { provider: 'openai', items: [] } }],
    });
    expect(result.status).toBe(400);
    expect(result.json.error).toMatchObject({ code: 'invalid_request', field: 'messages.0.reasoning_state' });
  });
});

describe('Gemini: thought signatures', () => {
  const base = { provider: 'gemini', model: 'gemini-3-pro-preview', tools: TOOLS };

  it('a two-turn tool conversation: the call goes back with its own signature', async () => {
    const first = await postStream(harness.url, { ...base, messages: [QUESTION] });
    expect(invariantViolation(first)).toBeUndefined();
    const done = first.frames.at(-1)?.data;
    expect(done.finish_reason).toBe('tool_calls');
    expect(done.reasoning_state).toEqual({
      provider: 'gemini',
      model: 'gemini-3-pro-preview',
      items: [{ part: 'function_call', index: 0, signature: expect.any(String) }],
    });
    const signature = done.reasoning_state.items[0].signature;
    expect((await resultOf(first)).reasoning_state).toEqual(done.reasoning_state);

    harness.emulator.enqueue('gemini', { toolCall: false });
    const second = await postStream(harness.url, {
      ...base,
      messages: secondTurn(first, done.reasoning_state),
    });
    expect(second.frames.map((frame) => frame.event)).not.toContain('error');
    expect(second.frames.at(-1)?.data.finish_reason).toBe('stop');
    const sent = harness.emulator.stats('gemini').bodies.at(-1) as {
      contents: { role: string; parts: Record<string, unknown>[] }[];
    };
    const model = sent.contents.find((content) => content.role === 'model');
    expect(model?.parts[0]).toMatchObject({
      functionCall: { name: 'get_weather' },
      thoughtSignature: signature,
    });
  });

  it('a damaged signature is refused by the emulator as Google refuses it', async () => {
    const first = await postStream(harness.url, { ...base, messages: [QUESTION] });
    const state = structuredClone(first.frames.at(-1)?.data.reasoning_state);
    state.items[0].signature = `x${state.items[0].signature}`;
    const second = await postStream(harness.url, { ...base, messages: secondTurn(first, state) });
    expect(second.frames.at(-2)?.data).toMatchObject({ code: 'bad_request' });
    expect(second.frames.at(-2)?.data.message).toContain('Corrupted thought signature');
  });
});
