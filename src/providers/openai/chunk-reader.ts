import { isNonArrayObject } from '../../core/json.js';

/**
 * A faster `JSON.parse` for one stream's Chat Completions chunks. Past the first few chunks of an
 * answer nearly every one is the previous one with two strings changed: the delta's `content`
 * and, from OpenAI itself, the `obfuscation` padding. Once a content chunk was parsed in full,
 * its text around those two strings is kept as a template; a chunk that is byte for byte that
 * text around two plain strings (no escapes, no control characters) is read by comparing the
 * template's pieces and slicing the strings out. Anything else (another shape, an escape, the
 * finish or usage chunk, an error) goes to `JSON.parse`.
 *
 * What a read returns is the value `JSON.parse` returns, with one exception: a chunk read against
 * a template that carries nothing but content (no finish reason, usage, error, reasoning, refusal
 * or tool call, and the first choice) comes back as a `ContentDelta`, which holds the content and
 * builds that value only when asked. The codec takes its text from it: such a chunk is its text
 * and nothing else once the codec sent the metadata its id and model make.
 */

/** Whether `text` holds a character JSON forbids raw inside a string (U+0000 to U+001F must be escaped). */
function hasControlCharacter(text: string): boolean {
  for (let index = 0; index < text.length; index++) if (text.charCodeAt(index) < 0x20) return true;
  return false;
}

/** The parts of a content chunk's value on the way to its two strings. */
interface ChunkValue {
  choices: [{ delta: Record<string, unknown> }];
  obfuscation?: string;
}

interface Template {
  value: ChunkValue;
  /** The chunk carries content alone: chunks read against it come back as `ContentDelta`s. */
  contentOnly: boolean;
  /** The text before the content string, up to and with its opening quote. */
  head: string;
  /** From the content's closing quote to the obfuscation string's opening quote; undefined without one. */
  middle: string | undefined;
  /** From the last string's closing quote to the end. */
  tail: string;
}

/** Where the raw JSON string opening at `start` closes, or undefined when it holds an escape. */
function plainStringEnd(text: string, start: number): number | undefined {
  const end = text.indexOf('"', start);
  if (end === -1) return undefined;
  const backslash = text.indexOf('\\', start);
  return backslash !== -1 && backslash < end ? undefined : end;
}

/**
 * Where the string value of the key `name` opens and closes in `text`, when `leaf` is that value
 * and the key is written once in the text, in this form: `"name":"`. The caller made sure the
 * text holds no escape, so every raw quote delimits a string, no key is written any other way,
 * and the one `"name"` in the text is the key whose value is `leaf`.
 */
function findString(text: string, name: string, leaf: unknown): { start: number; end: number } | undefined {
  if (typeof leaf !== 'string') return undefined;
  const quoted = `"${name}"`;
  const at = text.indexOf(quoted);
  if (at === -1 || text.indexOf(quoted, at + 1) !== -1) return undefined;
  const colon = at + quoted.length;
  if (text.charCodeAt(colon) !== 0x3a /* : */ || text.charCodeAt(colon + 1) !== 0x22 /* " */)
    return undefined;
  const start = colon + 2;
  const end = text.indexOf('"', start);
  return end === -1 || text.slice(start, end) !== leaf ? undefined : { start, end };
}

const isAbsent = (value: unknown): boolean => value === undefined || value === null;

/**
 * Whether the codec reads nothing from this chunk but its delta's content: no error, usage,
 * finish reason, reasoning, refusal or tool call, and the one choice is the one it reads (index 0).
 */
function carriesContentOnly(value: Record<string, unknown>, choice: Record<string, unknown>): boolean {
  const delta = choice.delta as Record<string, unknown>;
  return (
    isAbsent(value.error) &&
    isAbsent(value.usage) &&
    (choice.index === undefined || choice.index === 0) &&
    isAbsent(choice.finish_reason) &&
    isAbsent(delta.reasoning_content) &&
    isAbsent(delta.reasoning) &&
    isAbsent(delta.refusal) &&
    isAbsent(delta.tool_calls)
  );
}

/** A template from a parsed chunk with one choice whose delta holds a content string. */
function learn(text: string, value: unknown): Template | undefined {
  if (!isNonArrayObject(value) || !Array.isArray(value.choices) || value.choices.length !== 1)
    return undefined;
  const choice: unknown = value.choices[0];
  if (!isNonArrayObject(choice) || !isNonArrayObject(choice.delta)) return undefined;
  // With an escape anywhere, a key could be spelled another way (`"\u0063ontent"`).
  if (text.includes('\\')) return undefined;
  const content = findString(text, 'content', choice.delta.content);
  if (content === undefined) return undefined;
  const obfuscation = findString(text, 'obfuscation', value.obfuscation);
  const chunk = value as unknown as ChunkValue;
  // Without padding after the content (or with it first, which no recorded stream shows), only
  // the content changes: padding elsewhere must then be the same for the template to match.
  const padding = obfuscation !== undefined && obfuscation.start > content.end ? obfuscation : undefined;
  return {
    value: chunk,
    contentOnly: carriesContentOnly(value, choice),
    head: text.slice(0, content.start),
    middle: padding === undefined ? undefined : text.slice(content.end, padding.start),
    tail: text.slice(padding === undefined ? content.end : padding.end),
  };
}

/** V8 copies a slice shorter than this; a longer one is a view into its parent. */
const SHORTEST_VIEW = 13;

/**
 * The same characters in a string of their own. A slice of a longer string may keep that whole
 * string alive (V8 makes slices of 13 characters or more views into their parent), and the
 * content is kept for the resume window while the chunk's text is not: JSON.parse copies it
 * too. Joining and slicing again flattens the join into a new string one character longer. A
 * shorter slice (most deltas: a word or two) is a copy already.
 */
function detached(text: string): string {
  return text.length < SHORTEST_VIEW ? text : ` ${text}`.slice(1);
}

/** The raw string of `text` opening at `start` when it is plain and allowed, else undefined. */
function plainString(text: string, start: number): { raw: string; end: number } | undefined {
  const end = plainStringEnd(text, start);
  if (end === undefined) return undefined;
  const raw = text.slice(start, end);
  return hasControlCharacter(raw) ? undefined : { raw, end };
}

/** The chunk `text` is, read against the template, or undefined when it is not the template around two strings. */
function read(template: Template, text: string): ChunkValue | ContentDelta | undefined {
  const { head, middle, tail } = template;
  if (text.slice(0, head.length) !== head) return undefined;
  const content = plainString(text, head.length);
  if (content === undefined) return undefined;
  let at = content.end;
  let obfuscation: string | undefined;
  if (middle !== undefined) {
    if (text.slice(at, at + middle.length) !== middle) return undefined;
    const padding = plainString(text, at + middle.length);
    if (padding === undefined) return undefined;
    obfuscation = padding.raw;
    at = padding.end;
  }
  if (text.length !== at + tail.length || text.slice(at) !== tail) return undefined;
  const delta = new ContentDelta(detached(content.raw), template.value, obfuscation);
  return template.contentOnly ? delta : delta.value();
}

/**
 * A chunk that is its template's with another content (and padding): its content, and its value
 * built on request, exactly what `JSON.parse` returns for its text.
 */
export class ContentDelta {
  constructor(
    readonly content: string,
    private readonly template: ChunkValue,
    private readonly obfuscation: string | undefined,
  ) {}

  /** The chunk's value: the template's objects on the way to the two strings copied, the rest shared. */
  value(): ChunkValue {
    const { template, obfuscation } = this;
    const choice = template.choices[0];
    const choices: ChunkValue['choices'] = [{ ...choice, delta: { ...choice.delta, content: this.content } }];
    return obfuscation === undefined ? { ...template, choices } : { ...template, choices, obfuscation };
  }
}

/**
 * Chunks in a row that went to `JSON.parse` after a template was learned before the reader
 * stops trying: a host whose every chunk differs elsewhere too (a token id, a duplicated text
 * field) would otherwise pay for a template on each one.
 */
const MISSES_BEFORE_GIVING_UP = 8;

/**
 * A reader for one stream: `JSON.parse`, faster on chunks shaped like the last content chunk, and
 * a `ContentDelta` for those that carry content alone. What it returns may share objects with what
 * it returned before: the codec only reads them.
 */
export function createChunkReader(): (text: string) => unknown {
  let template: Template | undefined;
  let misses = 0;
  return (text) => {
    if (template !== undefined) {
      const chunk = read(template, text);
      if (chunk !== undefined) {
        misses = 0;
        return chunk;
      }
      misses++;
    }
    const value: unknown = JSON.parse(text);
    if (misses < MISSES_BEFORE_GIVING_UP) template = learn(text, value) ?? template;
    else template = undefined;
    return value;
  };
}
