import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../../src/server/gateway.js';
import { chunksToSse, readTranscript } from '../helpers/replay.js';

/**
 * The OpenAI face held to recorded OpenAI streams, byte by byte where it matters: a recorded
 * stream is served as the upstream, the gateway re-emits it through /v1/chat/completions, and
 * every event it writes must be a `data:` line whose JSON has the shape of a recorded chunk
 * (the same keys in the same order, optional ones aside), carry the same text, tool calls,
 * finish reason and usage, and end with `[DONE]`.
 */

const FIXTURES = join(import.meta.dirname, '../../src/providers/openai/fixtures');

/** Recorded streams, as raw SSE with blank-line separators. */
function recorded(name: string): Buffer {
  const bytes = readTranscript(join(FIXTURES, name));
  if (name.endsWith('.excerpt.txt')) return chunksToSse(bytes.toString('utf8'));
  // Some recordings separate events with one LF; OpenAI sends a blank line.
  const events = bytes
    .toString('utf8')
    .split('\n')
    .filter((line) => line.startsWith('data: '));
  return Buffer.from(events.map((line) => `${line}\n\n`).join(''));
}

const STREAMS = [
  'openai-text-modern.excerpt.txt',
  'openai-text.txt',
  'openai-toolcalls.txt',
  'openai-parallel-toolcalls.txt',
  'openai-content-filter.txt',
] as const;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function eventsOf(raw: string): Json[] {
  return raw
    .split('\n\n')
    .filter((block) => block.length > 0)
    .map((block) => block.slice('data: '.length))
    .filter((data) => data !== '[DONE]')
    .map((data) => JSON.parse(data) as Json);
}

/**
 * Whether `ours` has the shape of `theirs`: objects hold a subset of its keys in the same
 * relative order (fields OpenAI sends that clients do not need may be left out), arrays hold
 * elements shaped like some element of its array, and values have the same JSON type.
 */
function fits(ours: Json, theirs: Json): boolean {
  if (ours === null || theirs === null) return ours === theirs;
  if (Array.isArray(ours) || Array.isArray(theirs)) {
    if (!Array.isArray(ours) || !Array.isArray(theirs)) return false;
    return ours.every((element) => theirs.some((candidate) => fits(element, candidate)));
  }
  if (typeof ours !== 'object' || typeof theirs !== 'object') return typeof ours === typeof theirs;
  const theirKeys = Object.keys(theirs);
  let position = -1;
  for (const key of Object.keys(ours)) {
    const at = theirKeys.indexOf(key);
    if (at <= position) return false;
    position = at;
    if (!fits(ours[key] as Json, theirs[key] as Json)) return false;
  }
  return true;
}

/** What a stream says, whatever its chunking: text, tool calls per index, finish reasons, usage counts. */
function meaning(events: Json[]) {
  let text = '';
  const calls: Record<number, { id: string; name: string; arguments: string }> = {};
  const finishes: string[] = [];
  let usage: Record<string, Json> | undefined;
  for (const event of events as Record<string, Json>[]) {
    for (const choice of (event.choices ?? []) as Record<string, Json>[]) {
      const delta = choice.delta as Record<string, Json>;
      text += (delta.content as string | null) ?? '';
      for (const call of (delta.tool_calls ?? []) as Record<string, Json>[]) {
        const entry = calls[call.index as number] ?? { id: '', name: '', arguments: '' };
        calls[call.index as number] = entry;
        const fn = call.function as Record<string, string>;
        entry.id += (call.id as string | undefined) ?? '';
        entry.name += fn.name ?? '';
        entry.arguments += fn.arguments ?? '';
      }
      if (choice.finish_reason !== null) finishes.push(choice.finish_reason as string);
    }
    if (event.usage) usage = event.usage as Record<string, Json>;
  }
  const counts = usage && {
    prompt_tokens: usage.prompt_tokens,
    completion_tokens: usage.completion_tokens,
    total_tokens: usage.total_tokens,
  };
  return { text, calls, finishes, usage: counts };
}

let upstream: Server;
let gateway: Gateway;
let serving: Buffer = Buffer.alloc(0);
const shapes: Json[] = [];

beforeAll(async () => {
  upstream = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.end(serving);
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const address = upstream.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  gateway = await startGateway({
    env: { OPENAI_API_KEY: 'sk-recorded', OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1` },
    settings: { port: 0, host: '127.0.0.1', maxRetries: 0 },
    webRoot: null,
  });
  for (const name of [...STREAMS, 'openai-error-midstream.txt']) {
    shapes.push(...eventsOf(recorded(name).toString('utf8')));
  }
});
afterAll(async () => {
  await gateway.close(100);
  await new Promise((resolve) => upstream.close(resolve));
});

async function replayThroughGateway(
  stream: Buffer,
  includeUsage: boolean,
): Promise<{ raw: string; contentType: string | null }> {
  serving = stream;
  const response = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Hi' }],
      tools: [
        { type: 'function', function: { name: 'get_current_weather', parameters: { type: 'object' } } },
      ],
      stream: true,
      ...(includeUsage ? { stream_options: { include_usage: true } } : {}),
    }),
  });
  expect(response.status).toBe(200);
  return { raw: await response.text(), contentType: response.headers.get('content-type') };
}

describe.each(STREAMS)('re-emitting the recorded %s', (name) => {
  it.each([true, false])(
    'include_usage %s: data lines only, recorded shapes, same meaning, [DONE] last',
    async (includeUsage) => {
      const source = recorded(name);
      const { raw, contentType } = await replayThroughGateway(source, includeUsage);
      expect(contentType).toBe('text/event-stream; charset=utf-8');
      // Every event is one `data:` line and a blank line: no `event:`, `id:`, `retry:` or comments.
      expect(raw).toMatch(/^(data: [^\n]+\n\n)+$/);
      expect(raw.endsWith('data: [DONE]\n\n')).toBe(true);
      expect(raw.indexOf('[DONE]')).toBe(raw.length - 'data: [DONE]\n\n'.length + 'data: '.length);

      const ours = eventsOf(raw);
      for (const event of ours) {
        const matched = shapes.some((shape) => fits(event, shape));
        expect(matched, `no recorded chunk has the shape of ${JSON.stringify(event)}`).toBe(true);
      }
      const theirs = meaning(eventsOf(source.toString('utf8')));
      const said = meaning(ours);
      expect(said.text).toBe(theirs.text);
      expect(said.calls).toEqual(theirs.calls);
      expect(said.finishes).toEqual(theirs.finishes);
      if (includeUsage && theirs.usage !== undefined) expect(said.usage).toEqual(theirs.usage);
      if (!includeUsage) expect(said.usage).toBeUndefined();
      for (const event of ours as Record<string, Json>[]) {
        if (includeUsage) expect(Object.hasOwn(event, 'usage')).toBe(true);
        else expect(Object.hasOwn(event, 'usage')).toBe(false);
      }
    },
  );
});

describe('a recorded mid-stream error', () => {
  it('is re-emitted as OpenAI writes it, and nothing follows', async () => {
    const text = recorded('openai-text-modern.excerpt.txt')
      .toString('utf8')
      .split('\n\n')
      .slice(0, 3)
      .join('\n\n');
    const error = recorded('openai-error-midstream.txt').toString('utf8');
    const { raw } = await replayThroughGateway(Buffer.from(`${text}\n\n${error}`), true);
    const events = eventsOf(raw);
    const last = events.at(-1) as { error: Record<string, Json> };
    expect(Object.keys(last)).toEqual(['error']);
    expect(Object.keys(last.error)).toEqual(['message', 'type', 'param', 'code']);
    expect(last.error).toMatchObject({ type: 'server_error', param: null });
    expect(raw).not.toContain('[DONE]');
    expect(meaning(events).text).toBe('**Holiday');
  });
});
