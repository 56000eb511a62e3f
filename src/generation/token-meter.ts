import { type Encoder, loadedTokenizer, SEGMENT_CHARS, segmentEnd } from './usage.js';

/**
 * Characters of one piece counted exactly; the rest of a longer piece is estimated from the
 * ratio of the part counted. Upstream deltas are a word or a few, so this bound is only reached
 * by a provider that sends a whole answer at once.
 */
const EXACT_PIECE_CHARS = 4 * SEGMENT_CHARS;
/** Characters a token when no tokenizer is loaded (the usual figure for English text). */
const CHARS_PER_TOKEN = 4;

/** Tokens in one streamed piece, in bounded time. */
function countPiece(encode: Encoder | undefined, text: string): number {
  if (text.length === 0) return 0;
  if (encode === undefined) return Math.ceil(text.length / CHARS_PER_TOKEN);
  const exactLength = Math.min(text.length, EXACT_PIECE_CHARS);
  let tokens = 0;
  for (let start = 0; start < exactLength; ) {
    const end = segmentEnd(text, start, exactLength);
    tokens += encode(text.slice(start, end)).length;
    start = end;
  }
  const rest = text.length - exactLength;
  return rest > 0 ? tokens + Math.ceil((rest * tokens) / exactLength) : tokens;
}

/**
 * A generation's output tokens (answer, reasoning, tool calls), counted as they stream: each
 * piece with the tokenizer the usage fallback uses (cl100k), replaced by the provider's own
 * count whenever it reports one. Attempts that carry the answer on (a continued answer) add up;
 * an attempt abandoned before any content (a retry, a fallback) counts for nothing.
 *
 * Counting costs about a microsecond and a half a piece, so it runs only when something reads
 * the count (`live`): a `token_budget`, or a per-key limit.
 */
export class TokenMeter {
  /** Count each piece as it streams; otherwise only the provider's reports are taken. */
  live = false;
  /** Tokens of earlier attempts whose output the answer kept. */
  private kept = 0;
  /** This attempt's tokens: counted pieces, or the provider's latest report. */
  private current = 0;
  private encode: Encoder | undefined;

  /** Output tokens so far. */
  get tokens(): number {
    return this.kept + this.current;
  }

  /** Counts one piece of output (when live). */
  add(text: string): void {
    if (!this.live || text.length === 0) return;
    this.encode ??= loadedTokenizer();
    this.current += countPiece(this.encode, text);
  }

  /** The provider reported its output count for this attempt so far: it replaces ours. */
  report(outputTokens: number): void {
    this.current = outputTokens;
  }

  /** A new attempt begins; `keep`: the previous one's output is part of the answer. */
  nextAttempt(keep: boolean): void {
    if (keep) this.kept += this.current;
    this.current = 0;
  }
}
