import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RequestError } from '../core/errors.js';
import { MAX_JSON_DEPTH, parseChatRequest } from '../protocol/request.js';
import { PROVIDERS, resolveRequest } from './registry.js';

/**
 * Whatever passes validation, every provider can write: `validate` and `buildRequest` never
 * throw for a request `parseChatRequest` accepted, and what they write is a URL and JSON text.
 * A throw there would happen inside a running generation, after the stream started.
 */

/** Mostly what validation lets through, sometimes what it must refuse. */
function mostly<T>(valid: fc.Arbitrary<T>, hostile: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.oneof({ arbitrary: valid, weight: 12 }, { arbitrary: hostile, weight: 1 });
}

/** Characters that break encoders: controls, separators, quotes, URL syntax, astral pairs. */
const awkwardString = fc.string({
  maxLength: 12,
  unit: fc.constantFrom(
    '\u{1F600}',
    '\u0000',
    '\n',
    '\r',
    '\u2028',
    '"',
    '\\',
    '%',
    '/',
    '?',
    '#',
    '..',
    ' ',
    'a',
    '_',
  ),
});
/** ... and lone surrogates (`unit: 'binary'` never makes one), which validation must refuse. */
const hostileString = mostly(
  fc.oneof(awkwardString, fc.string({ unit: 'binary', maxLength: 12 })),
  fc.string({ minLength: 1, maxLength: 6, unit: fc.constantFrom('\ud800', '\udfff', 'a') }),
);

const modelNames = [
  ...new Set(PROVIDERS.flatMap((provider) => [provider.defaultModel, ...provider.suggestedModels])),
  'models/gemini-2.5-flash',
  'claude-3-haiku-20240307',
];

const hostileNumber = (valid: fc.Arbitrary<number>) =>
  mostly(
    valid,
    fc.oneof(fc.constantFrom(0, -0, 2 ** 53, 1e308, -1, 10_000_000, 10_000_001), fc.double({ noNaN: true })),
  );

/**
 * A value `depth` arrays or objects deep: around the depth bound, and deep enough to overflow
 * `JSON.stringify` (a few thousand levels). The generated body holds it as a marker string
 * (`\u0001deep:a5000`), replaced by JSON text just before parsing, so that neither the generator
 * nor fast-check's report of a counterexample has to walk the deep value.
 */
const deepMarker = fc
  .tuple(fc.constantFrom(MAX_JSON_DEPTH - 8, MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH, 5000, 20_000), fc.boolean())
  .map(([depth, objects]) => `\u0001deep:${objects ? 'o' : 'a'}${depth}`);

function deepText(spec: string): string {
  const depth = Number(spec.slice(1));
  return spec.startsWith('o')
    ? `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`
    : `${'['.repeat(depth)}1${']'.repeat(depth)}`;
}

/** The body as the gateway receives it: JSON text, deep values in place, then parsed. */
function bodyFrom(candidate: unknown): unknown {
  const text = JSON.stringify(candidate)
    // A marker as a JSON value, and inside a tool call's arguments (JSON text in a JSON string).
    .replace(/"\\u0001deep:(\w+)"/g, (_, spec: string) => deepText(spec))
    .replace(/\\"\\\\u0001deep:(\w+)\\"/g, (_, spec: string) => JSON.stringify(deepText(spec)).slice(1, -1));
  return JSON.parse(text);
}

const jsonValue = mostly(fc.jsonValue({ maxDepth: 4 }), fc.oneof(deepMarker, hostileString));

const schema = mostly(
  fc.record(
    {
      type: mostly(fc.constant('object'), jsonValue),
      properties: mostly(fc.dictionary(awkwardString, jsonValue, { maxKeys: 3 }), jsonValue),
      required: mostly(fc.array(hostileString, { maxLength: 3 }), jsonValue),
      items: jsonValue,
      anyOf: fc.array(jsonValue, { maxLength: 3 }),
      enum: jsonValue,
    },
    { requiredKeys: [] },
  ),
  jsonValue,
);

/** Arguments as JSON text; markers of deep values in it are replaced by `bodyFrom` too. */
const argumentsText = mostly(
  fc.oneof(
    fc.dictionary(awkwardString, jsonValue, { maxKeys: 3 }).map((value) => JSON.stringify(value)),
    fc.constant(''),
  ),
  fc.oneof(
    hostileString,
    fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
  ),
);

const name = mostly(fc.constantFrom('get_weather', 'f', 'run-1', 'x'.repeat(64)), hostileString);
const id = mostly(fc.constantFrom('call_1', 'toolu_1', 'call_2'), hostileString);

const toolCall = fc.record({
  id,
  type: fc.constant('function'),
  function: fc.record({ name, arguments: argumentsText }),
});

const message = fc.record(
  {
    role: fc.constantFrom('system', 'user', 'user', 'assistant', 'tool'),
    content: mostly(
      fc.oneof(awkwardString, fc.constantFrom('Hello', '{"a":1}', '', ' ')),
      fc.oneof(hostileString, fc.constant(null)),
    ),
    tool_call_id: id,
    tool_calls: fc.array(toolCall, { maxLength: 2 }),
  },
  { requiredKeys: ['role', 'content', 'tool_call_id'] },
);

const tool = fc.record(
  {
    type: fc.constant('function'),
    function: fc.record({ name, description: hostileString, parameters: schema }, { requiredKeys: ['name'] }),
  },
  { requiredKeys: ['type', 'function'] },
);

const body = fc.record(
  {
    provider: fc.constantFrom(...PROVIDERS.map((provider) => provider.id)),
    model: mostly(fc.constantFrom(...modelNames), hostileString),
    messages: fc.array(message, { minLength: 1, maxLength: 3 }),
    temperature: hostileNumber(fc.double({ min: 0, max: 1, noNaN: true })),
    max_tokens: hostileNumber(fc.integer({ min: 1, max: 200_000 })),
    thinking_budget: hostileNumber(fc.oneof(fc.constant(0), fc.integer({ min: 1024, max: 40_000 }))),
    include_thinking: fc.boolean(),
    // Distinct names, so that a duplicate does not hide everything else in the tools.
    tools: fc.uniqueArray(tool, { maxLength: 2, selector: (entry) => entry.function.name }),
  },
  { requiredKeys: ['provider', 'messages'] },
);

const settings = { apiKey: 'test-key', baseUrl: 'http://127.0.0.1:9/base/' };

describe('a request that passed validation can be written by every provider', () => {
  it('validate and buildRequest never throw; the URL parses and the body is JSON', () => {
    let written = 0;
    fc.assert(
      fc.property(body, (candidate) => {
        const parsed = parseChatRequest(bodyFrom(candidate));
        if (!parsed.ok) return;
        for (const provider of PROVIDERS) {
          let resolved: ReturnType<typeof resolveRequest>;
          try {
            // resolveRequest runs the provider's validate.
            resolved = resolveRequest({ ...parsed.request, provider: provider.id });
          } catch (error) {
            expect(error).toBeInstanceOf(RequestError);
            continue;
          }
          const upstream = resolved.provider.buildRequest(parsed.request, resolved.model, settings);
          expect(() => new URL(upstream.url)).not.toThrow();
          expect(() => JSON.parse(upstream.body as string)).not.toThrow();
          written++;
        }
      }),
      { numRuns: 500, seed: 20_240_611 },
    );
    // The generators must reach the providers, not only the validator.
    expect(written).toBeGreaterThan(300);
  });
});
