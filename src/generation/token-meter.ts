import { type Counter, loadedTokenizer, SEGMENT_CHARS, segmentEnd } from './usage.js';

/**
 * Characters of one piece counted exactly; the rest of a longer piece is estimated from the
 * ratio of the part counted. Upstream deltas are a word or a few, so this bound is only reached
 * by a provider that sends a whole answer at once.
 */
const EXACT_PIECE_CHARS = 4 * SEGMENT_CHARS;
/** Characters a token when no tokenizer is loaded (the usual figure for English text). */
const CHARS_PER_TOKEN = 4;

/** Tokens in one streamed piece, in bounded time. */
function countPiece(encode: Counter | undefined, text: string): number {
  if (text.length === 0) return 0;
  if (encode === undefined) return Math.ceil(text.length / CHARS_PER_TOKEN);
  const exactLength = Math.min(text.length, EXACT_PIECE_CHARS);
  let tokens = 0;
  for (let start = 0; start < exactLength; ) {
    const end = segmentEnd(text, start, exactLength);
    tokens += encode(text.slice(start, end));
    start = end;
  }
  const rest = text.length - exactLength;
  return rest > 0 ? tokens + Math.ceil((rest * tokens) / exactLength) : tokens;
}

/** Text held back at most while waiting for the word it ends in to finish. */
const MAX_CARRY_CHARS = 256;

function isSpace(code: number): boolean {
  return code === 32 || (code >= 9 && code <= 13);
}

/**
 * Where the last word of `text` starts, with the whitespace before it (which the tokenizer
 * joins to the word, " word" being one token): text before it tokenizes the same whatever
 * follows; text from it may still grow. Trailing whitespace stays with the word after it.
 */
function lastWordStart(text: string): number {
  for (let index = text.length - 2; index >= 0; index--) {
    if (isSpace(text.charCodeAt(index)) && !isSpace(text.charCodeAt(index + 1))) return index;
  }
  return 0;
}

/**
 * A generation's output tokens (answer, reasoning, tool calls), counted as they stream with the
 * tokenizer the usage fallback uses (cl100k), and replaced by the provider's own count whenever
 * it reports one. Pieces are counted whole words at a time (the unfinished last word is counted
 * provisionally, then again once it is whole), so the running count matches a count of the
 * whole text rather than adding up the tokens of arbitrary fragments. Attempts that carry the
 * answer on (a continued answer) add up; an attempt abandoned before any content (a retry, a
 * fallback) counts for nothing.
 *
 * Counting costs a few microseconds a piece, so it runs only when something reads the count
 * (`live`): a `token_budget`, or a per-key limit.
 */
export class TokenMeter {
  /** Count each piece as it streams; otherwise only the provider's reports are taken. */
  live = false;
  /** Tokens of earlier attempts whose output the answer kept. */
  private kept = 0;
  /** This attempt's tokens for whole words, or the provider's latest report. */
  private counted = 0;
  /** The unfinished last word, and its provisional count. */
  private carry = '';
  private provisional = 0;
  private encode: Counter | undefined;

  /** Output tokens so far. */
  get tokens(): number {
    return this.kept + this.counted + this.provisional;
  }

  /** Counts one piece of output (when live). */
  add(text: string): void {
    if (!this.live || text.length === 0) return;
    this.encode ??= loadedTokenizer();
    const pending = this.carry + text;
    let cut = lastWordStart(pending);
    if (pending.length - cut > MAX_CARRY_CHARS) cut = pending.length - MAX_CARRY_CHARS / 4;
    // Never between the halves of a surrogate pair.
    const before = pending.charCodeAt(cut - 1);
    if (cut > 0 && before >= 0xd800 && before <= 0xdbff) cut--;
    if (cut > 0) this.counted += countPiece(this.encode, pending.slice(0, cut));
    this.carry = pending.slice(cut);
    this.provisional = countPiece(this.encode, this.carry);
  }

  /** The provider reported its output count for this attempt so far: it replaces ours. */
  report(outputTokens: number): void {
    this.counted = outputTokens;
    this.carry = '';
    this.provisional = 0;
  }

  /** A new attempt begins; `keep`: the previous one's output is part of the answer. */
  nextAttempt(keep: boolean): void {
    if (keep) this.kept += this.counted + this.provisional;
    this.counted = 0;
    this.carry = '';
    this.provisional = 0;
  }
}
