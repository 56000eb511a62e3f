import type { ContinuationStyle } from '../providers/types.js';

/**
 * Continuing a dropped answer (`recover: true`) without showing any text twice. The upstream is
 * asked to go on from the partial answer the client already has; what it sends back may repeat
 * the end of that answer. This trims the repetition from the start of the continuation.
 *
 * - `prefill` (the provider continues the partial answer itself, Anthropic and Ollama): the text
 *   goes on exactly where the prefill stopped, but the prefill was sent without its trailing
 *   whitespace (Anthropic refuses a final assistant turn that ends in whitespace), so the
 *   continuation may start with whitespace the client already has.
 * - `instruction` (a user turn asks to continue, everyone else): models restart the last word
 *   or the last few words, with or without the space before them, and may finish a word that was
 *   cut in half. The shortest run of the partial answer's last words that the continuation
 *   starts with is dropped; comparing whole words (not characters) keeps a continuation that
 *   merely starts with the same letters as the last word.
 */

export type { ContinuationStyle };

/** The most trailing words of the partial answer a continuation is compared with. */
const MAX_OVERLAP_WORDS = 32;
/** Continuation text held back while undecided; past it, the decision is made with what is there. */
const MAX_PENDING_CHARS = 4096;
/** How much of the partial answer's end is read for its last words. */
const TAIL_CHARS = 2048;

const LEADING_SPACE = /^\s*/;
const TRAILING_SPACE = /\s*$/;

/**
 * How much of the continuation's leading whitespace the client already has: the whitespace
 * between the last word sent and the next is the continuation's to say, but only what goes
 * beyond the whitespace already shown is new.
 */
function junction(sentTrailing: string, rest: string): number {
  const leading = LEADING_SPACE.exec(rest)?.[0] ?? '';
  return Math.min(sentTrailing.length, leading.length);
}

interface Word {
  text: string;
  start: number;
  /** Whitespace follows it (or the text is final): the word is whole. */
  complete: boolean;
}

function wordsOf(text: string, final: boolean): Word[] {
  const words: Word[] = [];
  for (const match of text.matchAll(/\S+/g)) {
    const end = match.index + match[0].length;
    words.push({ text: match[0], start: match.index, complete: final || end < text.length });
  }
  return words;
}

type Verdict = { kind: 'undecided' } | { kind: 'mismatch' } | { kind: 'match'; cut: number };

/**
 * Trims the start of one continuation. Feed it the continuation's text pieces in order; it
 * returns what may be shown now, holding back the start until it can tell the repeat apart.
 */
export class OverlapTrimmer {
  private readonly sentTrailing: string;
  private readonly sentWords: string[];
  /** The partial answer may end inside a word (no whitespace after its last one). */
  private readonly sentEndsInWord: boolean;
  private pending: string[] = [];
  private pendingLength = 0;
  private decided = false;

  constructor(
    sent: string,
    private readonly style: ContinuationStyle,
  ) {
    const tail = sent.slice(-TAIL_CHARS);
    this.sentTrailing = TRAILING_SPACE.exec(tail)?.[0] ?? '';
    this.sentEndsInWord = this.sentTrailing.length === 0;
    const words = tail.split(/\s+/).filter((word) => word.length > 0);
    // The first word of a cut tail may be a fragment: it never takes part.
    if (sent.length > TAIL_CHARS) words.shift();
    this.sentWords = words.slice(-MAX_OVERLAP_WORDS);
  }

  /** Text of the continuation; returns what can go to the client now. */
  push(text: string): string {
    if (this.decided) return text;
    this.pending.push(text);
    this.pendingLength += text.length;
    return this.decide(this.pendingLength >= MAX_PENDING_CHARS);
  }

  /** The continuation ended (or was cut): whatever is held back is decided now. */
  flush(): string {
    return this.decided ? '' : this.decide(true);
  }

  private decide(final: boolean): string {
    const text = this.pending.join('');
    const cut = this.style === 'prefill' ? this.prefillCut(text, final) : this.instructionCut(text, final);
    if (cut === undefined) {
      this.pending = [text];
      return '';
    }
    this.decided = true;
    this.pending = [];
    this.pendingLength = 0;
    return text.slice(cut);
  }

  /** Only whitespace can repeat; known once the continuation shows something else. */
  private prefillCut(text: string, final: boolean): number | undefined {
    if (!final && !/\S/.test(text)) return undefined;
    return junction(this.sentTrailing, text);
  }

  private instructionCut(text: string, final: boolean): number | undefined {
    const words = wordsOf(text, final);
    const startsWithSpace = /^\s/.test(text);
    const limit = Math.min(MAX_OVERLAP_WORDS, this.sentWords.length);
    for (let count = 1; count <= limit; count++) {
      const verdict = this.compare(words, count, startsWithSpace, final);
      if (verdict.kind === 'undecided') return undefined;
      if (verdict.kind === 'match') return verdict.cut + junction(this.sentTrailing, text.slice(verdict.cut));
    }
    if (!final && words.length === 0) return undefined;
    return junction(this.sentTrailing, text);
  }

  /** Does the continuation start with the partial answer's last `count` words? */
  private compare(words: readonly Word[], count: number, startsWithSpace: boolean, final: boolean): Verdict {
    const expected = this.sentWords.slice(-count);
    for (let index = 0; index < count; index++) {
      const want = expected[index] ?? '';
      const word = words[index];
      if (word === undefined) return final ? { kind: 'mismatch' } : { kind: 'undecided' };
      const last = index === count - 1;
      // The partial answer's last word may have been cut: a repeat may finish it ("the gatew" +
      // "gateway streams"), unless the continuation opens with a space, which starts a new word.
      if (last && this.sentEndsInWord && (index > 0 || !startsWithSpace)) {
        if (word.text.length >= want.length) {
          return word.text.startsWith(want)
            ? { kind: 'match', cut: word.start + want.length }
            : { kind: 'mismatch' };
        }
        if (word.complete || !want.startsWith(word.text)) return { kind: 'mismatch' };
        return { kind: 'undecided' };
      }
      if (!word.complete) return want.startsWith(word.text) ? { kind: 'undecided' } : { kind: 'mismatch' };
      if (word.text !== want) return { kind: 'mismatch' };
      if (last) return { kind: 'match', cut: word.start + word.text.length };
    }
    return { kind: 'mismatch' };
  }
}
