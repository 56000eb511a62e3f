import { ApiError, type GenerateContentResponse, GoogleGenAI, Type } from '@google/genai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EmulatorServer } from '../../emulators/server.js';
import { createGeminiDialect } from './emulator.js';

/**
 * Fidelity: the official @google/genai SDK must consume the emulator as if it were Google. The
 * SDK only retries when `httpOptions.retryOptions` is set; the request counter proves it did not.
 */

let emulator: EmulatorServer;
let ai: GoogleGenAI;

beforeAll(async () => {
  emulator = new EmulatorServer({
    dialects: [createGeminiDialect()],
    defaults: { ttftMs: 0, chunkDelayMs: 0 },
  });
  await emulator.listen();
  ai = new GoogleGenAI({
    apiKey: 'test',
    httpOptions: { baseUrl: emulator.baseUrl('gemini'), timeout: 10_000 },
  });
});
afterAll(async () => {
  await emulator.close();
});
beforeEach(() => {
  emulator.reset();
});

async function collect(stream: AsyncGenerator<GenerateContentResponse>): Promise<GenerateContentResponse[]> {
  const chunks: GenerateContentResponse[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

const partsOf = (chunks: GenerateContentResponse[]) =>
  chunks.flatMap((chunk) => chunk.candidates?.[0]?.content?.parts ?? []);

describe('@google/genai against the Gemini emulator', () => {
  it('plain text: every chunk parses, text joins, usage and STOP arrive', async () => {
    const text = 'Plain text, streamed word by word: ünïcödé too.';
    emulator.enqueue('gemini', { text });
    const chunks = await collect(
      await ai.models.generateContentStream({ model: 'gemini-2.0-flash', contents: 'Say something' }),
    );
    expect(chunks.length).toBe(text.split(' ').length + 1);
    expect(chunks.map((chunk) => chunk.text ?? '').join('')).toBe(text);
    for (const chunk of chunks) {
      expect(chunk.usageMetadata?.promptTokenCount).toBeGreaterThan(0);
      expect(chunk.modelVersion).toBe('gemini-2.0-flash');
      expect(chunk.responseId).toBe(chunks[0]?.responseId);
    }
    expect(chunks.at(-1)?.candidates?.[0]?.finishReason).toBe('STOP');
    expect(chunks.at(-1)?.usageMetadata?.totalTokenCount).toBeGreaterThan(0);
    expect(emulator.stats('gemini').headers.at(-1)?.['x-goog-api-key']).toBe('test');
  });

  it('thinking: thought parts are flagged and kept out of .text', async () => {
    emulator.enqueue('gemini', { text: 'Final answer.', thinkingChunks: 3 });
    const chunks = await collect(
      await ai.models.generateContentStream({
        model: 'gemini-2.5-flash',
        contents: 'Think first',
        config: { thinkingConfig: { includeThoughts: true } },
      }),
    );
    const thoughts = partsOf(chunks).filter((part) => part.thought === true);
    expect(thoughts.map((part) => part.text).join('')).toBe('Let me think');
    expect(chunks.map((chunk) => chunk.text ?? '').join('')).toBe('Final answer.');
    expect(chunks.at(-1)?.usageMetadata?.thoughtsTokenCount).toBeGreaterThan(0);
    expect(chunks.at(-1)?.candidates?.[0]?.finishReason).toBe('STOP');
    const sent = emulator.stats('gemini').bodies.at(-1) as { generationConfig?: unknown };
    expect(sent.generationConfig).toMatchObject({ thinkingConfig: { includeThoughts: true } });
  });

  it('function declaration: the functionCall part is parsed whole', async () => {
    const chunks = await collect(
      await ai.models.generateContentStream({
        model: 'gemini-2.5-flash',
        contents: 'Weather in Paris?',
        config: {
          tools: [
            {
              functionDeclarations: [
                {
                  name: 'get_weather',
                  description: 'Current weather',
                  parameters: {
                    type: Type.OBJECT,
                    properties: { location: { type: Type.STRING }, days: { type: Type.INTEGER } },
                    required: ['location'],
                  },
                },
              ],
            },
          ],
        },
      }),
    );
    const calls = chunks.flatMap((chunk) => chunk.functionCalls ?? []);
    expect(calls).toEqual([{ name: 'get_weather', args: { location: 'Paris', days: 1 } }]);
    expect(chunks.at(-1)?.candidates?.[0]?.finishReason).toBe('STOP');
    expect(chunks.at(-1)?.usageMetadata).toBeDefined();
  });

  it('a scripted HTTP 429 surfaces as an ApiError carrying 429, with no silent retry', async () => {
    emulator.enqueue('gemini', { fault: { type: 'http', status: 429 } });
    const failure = await ai.models
      .generateContentStream({ model: 'gemini-2.5-flash', contents: 'x' })
      .then(collect)
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(failure).toBeInstanceOf(ApiError);
    expect((failure as ApiError).status).toBe(429);
    expect((failure as ApiError).message).toContain('RESOURCE_EXHAUSTED');
    expect(emulator.stats('gemini').requests).toBe(1);
  });

  it('a raw mid-stream error makes the SDK throw, as it does against Google', async () => {
    emulator.enqueue('gemini', { chunks: 4, fault: { type: 'midstream_error', afterChunks: 2 } });
    const seen: GenerateContentResponse[] = [];
    const failure = await (async () => {
      for await (const chunk of await ai.models.generateContentStream({
        model: 'gemini-2.5-flash',
        contents: 'x',
      })) {
        seen.push(chunk);
      }
    })().then(
      () => undefined,
      (error: unknown) => error,
    );
    // The raw error JSON has no `data:` prefix and no blank line after it (docs/wire.md §3.7), so
    // the SDK is left holding an unterminated segment at EOF.
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toBe('Incomplete JSON segment at the end');
    expect(seen).toHaveLength(2);
  });
});
