import type { EmulatedRequest, EmulatedToolCall } from './types.js';

/** Deterministic answer material for the emulators: same request, same bytes. */

const WORDS = (
  'the gateway streams every token as soon as it arrives so the reader sees the answer grow ' +
  'while the model is still thinking about what comes next and nothing is lost when a proxy ' +
  'or a flaky network drops the connection because the stream can resume from the last event'
).split(' ');

const THOUGHTS = (
  'Let me think about this step by step. The user wants a short answer, so I will first recall ' +
  'what matters, then check it against the question, and finally write it down clearly.'
).split(' ');

function seedOf(text: string): number {
  let hash = 2166136261;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 16777619);
  }
  return hash >>> 0;
}

/** Splits text into pieces of about one word, keeping every character (spaces, newlines). */
export function splitPieces(text: string): string[] {
  return text.match(/\s*\S+\s*|\s+/g) ?? [];
}

export function answerPieces(provider: string, request: EmulatedRequest, count: number): string[] {
  const excerpt = request.prompt.replace(/\s+/g, ' ').trim().slice(0, 40);
  const pieces = splitPieces(`Emulated ${provider} answer to "${excerpt}":`);
  let seed = seedOf(`${provider}|${request.model}|${request.prompt}`);
  while (pieces.length < count) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    pieces.push(` ${WORDS[seed % WORDS.length]}`);
  }
  pieces.length = Math.max(1, count);
  const last = pieces.length - 1;
  pieces[last] = `${pieces[last]}.`;
  return pieces;
}

export function thinkingPieces(count: number): string[] {
  const pieces: string[] = [];
  for (let index = 0; index < count; index++) {
    const word = THOUGHTS[index % THOUGHTS.length] ?? 'think';
    pieces.push(index === 0 ? word : ` ${word}`);
  }
  return pieces;
}

function exampleFor(schema: unknown, name: string): unknown {
  const type = (schema as { type?: unknown } | null)?.type;
  if (type === 'number' || type === 'integer') return 1;
  if (type === 'boolean') return true;
  if (type === 'array') return [];
  if (type === 'object') return {};
  return name === 'location' || name === 'city' ? 'Paris' : 'example';
}

/** A call to the request's first tool, with arguments made from its JSON schema. */
export function toolCallFor(request: EmulatedRequest, id: string): EmulatedToolCall | undefined {
  const tool = request.tools[0];
  if (tool === undefined) return undefined;
  const properties = (tool.parameters as { properties?: Record<string, unknown> } | null)?.properties ?? {};
  const args: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(properties)) args[key] = exampleFor(schema, key);
  return { id, name: tool.name, arguments: JSON.stringify(args) };
}

function isSpace(character: string | undefined): boolean {
  return character !== undefined && /\s/.test(character);
}

/**
 * What a model sends to carry on `partial`, a cut-off start of `full` (the answer the same
 * request would have had), deterministically: a prefill is continued exactly where it stops; an
 * instruction-led continuation restarts the last word, as models asked to "continue" do, with
 * the space before it or without (both happen), which the gateway must not show twice.
 * Undefined when `partial` is not the start of `full`: the model answers afresh.
 */
export function continueAnswer(
  full: string,
  partial: string,
  style: 'prefill' | 'instruction',
): string | undefined {
  if (!full.startsWith(partial)) return undefined;
  let start = partial.length;
  if (style === 'instruction') {
    while (start > 0 && isSpace(full[start - 1])) start--;
    while (start > 0 && !isSpace(full[start - 1])) start--;
    if (start > 0 && isSpace(full[start - 1]) && seedOf(partial) % 2 === 1) start--;
  }
  return full.slice(start);
}

/** A rough token count for emulated usage: about four characters a token. */
export function roughTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}
