import { Agent, request } from 'undici';
import { describe, expect, it } from 'vitest';
import { HTTP_PROVIDERS } from '../../src/providers/registry.js';
import { eventually, startTestGateway } from '../helpers/gateway.js';
import { invariantViolation, parseSse, type StreamResult } from '../helpers/sse.js';

/**
 * Nothing a client sends may wedge the gateway: random and mutated bodies (deep nesting,
 * ill-formed Unicode, wrong types, huge numbers, deleted and inserted fields, invalid JSON,
 * bodies that are not objects) each get a 4xx with a JSON error, or a 200 stream that ends
 * with `done` and `data: [DONE]`; afterwards no generation runs and no socket or timer is left.
 *
 * Deterministic per case: case `n` of seed `s` is always the same body, so a failure names
 * both and `SLUICE_FUZZ_SEED=s` replays the run.
 */

const SEED = Number(process.env.SLUICE_FUZZ_SEED ?? 20_250_611);
const TIME_BUDGET_MS = 5000;
const MAX_CASES = 4000;
const WORKERS = 4;
const STREAM_DEADLINE_MS = 6000;

/** mulberry32: small, fast, and the same sequence everywhere. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const chance = (random: Random, probability: number): boolean => random() < probability;
const between = (random: Random, low: number, high: number): number =>
  low + Math.floor(random() * (high - low + 1));

/**
 * Values JSON.stringify cannot write (thousands of levels, numbers like 1e400) stand in the body
 * as marker strings and become raw JSON text after serialization.
 */
const MARK = '\u0001raw:';
const raw = (text: string): string => `${MARK}${text}`;
function serialize(body: unknown): string {
  return JSON.stringify(body).replace(/"\\u0001raw:((?:[^"\\]|\\.)*)"/g, (_, text: string) =>
    JSON.parse(`"${text}"`),
  );
}

const deep = (depth: number, open = '[', close = ']'): string =>
  `${open.repeat(depth)}1${close.repeat(depth)}`;

function hostileValue(random: Random): unknown {
  switch (between(random, 0, 13)) {
    case 0:
      return raw(deep(pick(random, [63, 64, 65, 200, 5000, 20_000])));
    case 1:
      return raw(deep(pick(random, [64, 65, 3000]), '{"a":', '}'));
    case 2:
      return pick(random, ['\ud800', 'a\udfffb', 'half \ud83d', '\udc00\ud800']);
    case 3:
      return pick(random, [1e308, -1e308, 2 ** 53 + 2, -1, 0, -0.5, 3.7, 10_000_001]);
    case 4:
      return raw(pick(random, ['1e400', '-1e400', '-0', '1E-400', '123456789012345678901234567890']));
    case 5:
      return pick(random, [null, true, false]);
    case 6:
      return pick(random, [
        '',
        ' ',
        '\n',
        'x'.repeat(between(random, 100, 20_000)),
        '\u0000',
        '😀',
        '%2F../?#',
      ]);
    case 7:
      return [];
    case 8:
      return {};
    case 9:
      return [pick(random, ['a', 1, null, {}])];
    case 10:
      return { type: 'object', properties: { a: { type: 'string' } } };
    case 11:
      return pick(random, ['openai', 'anthropic', 'gemini', 'together', 'ollama', 'system', 'user', 'tool']);
    case 12:
      return between(random, 1, 200_000);
    default:
      return pick(random, ['{"a":1}', '[1]', 'not json', '{}']);
  }
}

function validMessages(random: Random): unknown[] {
  const messages: unknown[] = [];
  if (chance(random, 0.3)) messages.push({ role: 'system', content: 'Be terse.' });
  messages.push({
    role: 'user',
    content: pick(random, ['Hello', 'Weather in Paris?', 'é 😀 \u2028 "quoted"', 'x']),
  });
  if (chance(random, 0.25)) {
    const args = pick(random, ['{"city":"Paris"}', '', '{}', '{"a":[1,{"b":null}]}']);
    messages.push(
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: args } }],
      },
      { role: 'tool', tool_call_id: 'call_1', content: pick(random, ['sunny', '{"temp":20}', '']) },
    );
    if (chance(random, 0.5)) messages.push({ role: 'user', content: 'Thanks' });
  }
  return messages;
}

function validBody(random: Random): Record<string, unknown> {
  // Emulator-backed providers: the in-process model answers one request at a time, too slowly for a fuzz loop.
  const provider = pick(random, HTTP_PROVIDERS);
  const body: Record<string, unknown> = { provider: provider.id, messages: validMessages(random) };
  if (chance(random, 0.5)) body.model = pick(random, [provider.defaultModel, ...provider.suggestedModels]);
  if (chance(random, 0.4)) body.temperature = pick(random, [0, 0.3, 1]);
  if (chance(random, 0.4)) body.max_tokens = between(random, 1, 4096);
  if (chance(random, 0.3)) body.thinking_budget = pick(random, [null, 0, 1024, 2048]);
  if (chance(random, 0.3)) body.include_thinking = chance(random, 0.5);
  if (chance(random, 0.3)) {
    body.tools = [
      {
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'Weather for a city',
          parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        },
      },
    ];
  }
  return body;
}

/** Every container in the value with the key or index that reaches it, for mutations. */
function slots(
  value: unknown,
  found: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [],
) {
  if (typeof value !== 'object' || value === null) return found;
  const entries: [string | number, unknown][] = Array.isArray(value)
    ? value.map((member, index) => [index, member])
    : Object.entries(value);
  for (const [key, member] of entries) {
    found.push({ parent: value as Record<string, unknown>, key });
    slots(member, found);
  }
  return found;
}

function mutate(random: Random, body: Record<string, unknown>): void {
  const all = slots(body);
  const slot = pick(random, all);
  if (slot === undefined) return;
  const { parent, key } = slot;
  switch (between(random, 0, 3)) {
    case 0:
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key as string];
      break;
    case 1: {
      const containers = all.filter((entry) => typeof entry.parent === 'object').map((entry) => entry.parent);
      const target = pick(random, [body, ...containers]);
      const name = pick(random, [
        'extra',
        'role',
        'content',
        'model',
        'arguments',
        'parameters',
        '\ud800key',
        '__proto__',
        'type',
      ]);
      if (Array.isArray(target)) target.push(hostileValue(random));
      else target[name] = hostileValue(random);
      break;
    }
    default:
      (parent as Record<string | number, unknown>)[key] = hostileValue(random);
  }
}

interface FuzzCase {
  text: string;
  contentType: string;
}

function fuzzCase(seed: number, index: number): FuzzCase {
  const random = prng(seed ^ Math.imul(index + 1, 0x9e3779b1));
  const contentType = chance(random, 0.03)
    ? pick(random, ['text/plain', '', 'application/x-www-form-urlencoded'])
    : 'application/json';
  const roll = random();
  if (roll < 0.08) {
    const text = pick(random, [
      '',
      '[]',
      'null',
      '42',
      '"text"',
      'true',
      '{',
      '{"provider":',
      '\u0000',
      raw(deep(100_000)),
    ]);
    return { text: text.startsWith(MARK) ? text.slice(MARK.length) : text, contentType };
  }
  const body = validBody(random);
  const mutations = roll < 0.2 ? 0 : between(random, 1, 3);
  for (let count = 0; count < mutations; count++) mutate(random, body);
  let text = serialize(body);
  if (chance(random, 0.05)) text = text.slice(0, between(random, 0, text.length - 1));
  return { text, contentType };
}

interface Outcome {
  status: number;
  problem: string | undefined;
}

async function send(url: string, agent: Agent, fuzz: FuzzCase): Promise<Outcome> {
  const response = await request(`${url}/api/v1/chat/stream`, {
    method: 'POST',
    headers: fuzz.contentType === '' ? {} : { 'content-type': fuzz.contentType },
    body: fuzz.text,
    dispatcher: agent,
    headersTimeout: STREAM_DEADLINE_MS,
    bodyTimeout: STREAM_DEADLINE_MS,
    signal: AbortSignal.timeout(STREAM_DEADLINE_MS),
  });
  const text = await response.body.text();
  const type = String(response.headers['content-type'] ?? '');
  const status = response.statusCode;
  if (status >= 400 && status < 500) {
    if (!type.startsWith('application/json')) return { status, problem: `4xx with content-type ${type}` };
    const error = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }).error;
    if (typeof error?.code !== 'string' || typeof error.message !== 'string') {
      return { status, problem: `4xx without {"error":{"code","message"}}: ${text.slice(0, 300)}` };
    }
    return { status, problem: /\n\s+at /.test(text) ? 'stack trace in the error body' : undefined };
  }
  if (status !== 200) return { status, problem: `status ${status}: ${text.slice(0, 300)}` };
  if (!type.startsWith('text/event-stream')) return { status, problem: `200 with content-type ${type}` };
  const parsed = parseSse(text);
  const result: StreamResult = { status, headers: new Headers(), raw: text, ...parsed, json: undefined };
  const violation = invariantViolation(result);
  if (violation !== undefined) return { status, problem: `stream: ${violation}` };
  // No fault is scripted, so an error frame means the gateway let through what its provider
  // (emulated faithfully) refuses, or something broke on the way.
  const error = parsed.frames.find((frame) => frame.event === 'error');
  if (error !== undefined) return { status, problem: `error frame ${JSON.stringify(error.data)}` };
  return { status, problem: undefined };
}

describe('fuzzing the stream endpoint', () => {
  it(`every body gets a JSON 4xx or a complete stream, and nothing is left running (seed ${SEED})`, async () => {
    const count = (kind: string): number =>
      process.getActiveResourcesInfo().filter((resource) => resource === kind).length;
    const baseline = {
      sockets: count('TCPSocketWrap'),
      servers: count('TCPServerWrap'),
      timers: count('Timeout'),
    };
    const harness = await startTestGateway();
    const agent = new Agent({ connections: WORKERS });
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let next = 0;
    try {
      const started = Date.now();
      const worker = async (): Promise<void> => {
        while (next < MAX_CASES && Date.now() - started < TIME_BUDGET_MS && failures.length < 5) {
          const index = next++;
          const fuzz = fuzzCase(SEED, index);
          let outcome: Outcome;
          try {
            outcome = await send(harness.url, agent, fuzz);
          } catch (error) {
            outcome = {
              status: 0,
              problem: `request failed: ${error instanceof Error ? error.message : String(error)}`,
            };
          }
          statuses.set(outcome.status, (statuses.get(outcome.status) ?? 0) + 1);
          if (outcome.problem !== undefined) {
            failures.push(
              `seed ${SEED} case ${index} (${fuzz.contentType || 'no content-type'}): ${outcome.problem}\n  body: ${fuzz.text.slice(0, 600)}`,
            );
          }
        }
      };
      await Promise.all(Array.from({ length: WORKERS }, worker));
      expect(failures).toEqual([]);
      // The mix must exercise both answers, or the run proves little.
      expect(statuses.get(200) ?? 0).toBeGreaterThan(20);
      expect(statuses.get(400) ?? 0).toBeGreaterThan(20);
      await eventually(() => harness.gateway.store.running().length === 0, 3000, 'no running generations');
    } finally {
      // Bounded, so that a wedged stream fails this test with its report rather than a timeout.
      await agent.destroy();
      await Promise.race([harness.close(), new Promise((resolve) => setTimeout(resolve, 3000))]);
    }
    await eventually(
      () =>
        count('TCPSocketWrap') <= baseline.sockets &&
        count('TCPServerWrap') <= baseline.servers &&
        count('Timeout') <= baseline.timers,
      3000,
      `active handles back to the baseline ${JSON.stringify(baseline)}`,
    );
  }, 30_000);
});
