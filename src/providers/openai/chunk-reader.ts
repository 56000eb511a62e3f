import { isNonArrayObject } from '../../core/json.js';

/**
 * A faster `JSON.parse` for one stream's Chat Completions chunks. Past the first few chunks of an
 * answer nearly every one is the previous one with two strings changed: the delta's `content`
 * and, from OpenAI itself, the `obfuscation` padding. Once a content chunk was parsed in full,
 * its text around those two strings is kept as a template; a chunk that is byte for byte that
 * text around two plain strings (no escapes, no control characters) is read by comparing the
 * template's pieces and slicing the strings out, and its value is built from the template's by
 * copying the objects on the way to them. Anything else (another shape, an escape, the finish
 * or usage chunk, an error) goes to `JSON.parse`. The value is always the one `JSON.parse`
 * returns.
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
  if (obfuscation === undefined || obfuscation.start < content.end) {
    // Without padding after the content (or with it first, which no recorded stream shows), only
    // the content changes: padding elsewhere must then be the same for the template to match.
    return {
      value: chunk,
      head: text.slice(0, content.start),
      middle: undefined,
      tail: text.slice(content.end),
    };
  }
  return {
    value: chunk,
    head: text.slice(0, content.start),
    middle: text.slice(content.end, obfuscation.start),
    tail: text.slice(obfuscation.end),
  };
}

/**
 * The same characters in a string of their own. A slice of a longer string may keep that whole
 * string alive (V8 makes slices of 13 characters or more views into their parent), and the
 * content is kept for the resume window while the chunk's text is not: JSON.parse copies it
 * too. Joining and slicing again flattens the join into a new string one character longer.
 */
function detached(text: string): string {
  return ` ${text}`.slice(1);
}

/** The raw string of `text` opening at `start` when it is plain and allowed, else undefined. */
function plainString(text: string, start: number): { raw: string; end: number } | undefined {
  const end = plainStringEnd(text, start);
  if (end === undefined) return undefined;
  const raw = text.slice(start, end);
  return hasControlCharacter(raw) ? undefined : { raw, end };
}

/** The chunk `text` is, read against the template, or undefined when it is not the template around two strings. */
function read(template: Template, text: string): ChunkValue | undefined {
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
  // The template's objects on the way to the two strings are copied; everything else is shared.
  const { value } = template;
  const choice = value.choices[0];
  const choices: ChunkValue['choices'] = [
    { ...choice, delta: { ...choice.delta, content: detached(content.raw) } },
  ];
  return obfuscation === undefined ? { ...value, choices } : { ...value, choices, obfuscation };
}

/**
 * Chunks in a row that went to `JSON.parse` after a template was learned before the reader
 * stops trying: a host whose every chunk differs elsewhere too (a token id, a duplicated text
 * field) would otherwise pay for a template on each one.
 */
const MISSES_BEFORE_GIVING_UP = 8;

/**
 * A reader for one stream: `JSON.parse`, faster on chunks shaped like the last content chunk.
 * What it returns may share objects with what it returned before: the codec only reads them.
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
