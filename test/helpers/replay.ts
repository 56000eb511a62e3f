import { readFileSync } from 'node:fs';
import type { Framing } from '../../src/core/wire-parse.js';
import { createPartStream } from '../../src/generation/pipeline.js';
import type { CodecPart, StreamCodec } from '../../src/providers/types.js';

/** Reads a transcript, dropping `# source:` / `#` comment lines at its top. */
export function readTranscript(path: string): Buffer {
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  let start = 0;
  while (start < lines.length && (lines[start] ?? '').startsWith('# ')) start++;
  return Buffer.from(lines.slice(start).join('\n'), 'utf8');
}

/** Turns a `*.chunks.txt` file (one JSON payload a line) into raw SSE bytes. */
export function chunksToSse(text: string, options: { named?: boolean; separator?: string } = {}): Buffer {
  const separator = options.separator ?? '\n\n';
  const events = text
    .split('\n')
    .filter((line) => line.trim().length > 0 && !line.startsWith('# '))
    .map((line) => {
      if (!options.named) return `data: ${line}${separator}`;
      const type = (JSON.parse(line) as { type: string }).type;
      return `event: ${type}\ndata: ${line}${separator}`;
    });
  return Buffer.from(events.join(''), 'utf8');
}

/** Splits bytes at the given offsets (sorted, deduplicated, in range). */
export function splitAt(bytes: Uint8Array, offsets: readonly number[]): Uint8Array[] {
  const cuts = [...new Set(offsets.filter((offset) => offset > 0 && offset < bytes.length))].sort(
    (a, b) => a - b,
  );
  const pieces: Uint8Array[] = [];
  let previous = 0;
  for (const cut of cuts) {
    pieces.push(bytes.subarray(previous, cut));
    previous = cut;
  }
  pieces.push(bytes.subarray(previous));
  return pieces;
}

/** Random cut points, reproducible from `seed`. */
export function randomOffsets(length: number, count: number, seed: number): number[] {
  let state = seed >>> 0 || 1;
  const offsets: number[] = [];
  for (let index = 0; index < count; index++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    offsets.push((state >>> 0) % Math.max(1, length));
  }
  return offsets;
}

/** Feeds bytes, in the given pieces, through the gateway's part stream (framing parser and a fresh codec). */
export function replay(
  createCodec: () => StreamCodec,
  framing: Framing,
  pieces: readonly Uint8Array[],
): CodecPart[] {
  const stream = createPartStream({ framing, createCodec });
  const parts: CodecPart[] = [];
  for (const piece of pieces) parts.push(...stream.push(piece));
  parts.push(...stream.end());
  return parts;
}

/** Feeds a live response body, in the pieces it arrived in, through a provider's framing and codec. */
export async function replayBody(
  provider: { framing: Framing; createCodec(): StreamCodec },
  body: AsyncIterable<Uint8Array>,
): Promise<CodecPart[]> {
  const pieces: Uint8Array[] = [];
  for await (const piece of body) pieces.push(piece);
  return replay(() => provider.createCodec(), provider.framing, pieces);
}

/** Replays whole, byte by byte, and at many random offsets; asserts all give the same parts. */
export function replayEverySplit(
  createCodec: () => StreamCodec,
  framing: Framing,
  bytes: Uint8Array,
  rounds = 25,
): CodecPart[] {
  const whole = replay(createCodec, framing, [bytes]);
  const expected = JSON.stringify(whole);
  const variants: Uint8Array[][] = [
    splitAt(
      bytes,
      Array.from({ length: bytes.length }, (_, index) => index),
    ),
  ];
  for (let round = 1; round <= rounds; round++) {
    variants.push(splitAt(bytes, randomOffsets(bytes.length, 1 + (round % 40), round * 7919)));
  }
  for (const pieces of variants) {
    const actual = JSON.stringify(replay(createCodec, framing, pieces));
    if (actual !== expected) {
      throw new Error(`split replay differs from whole replay\nwhole: ${expected}\nsplit: ${actual}`);
    }
  }
  return whole;
}

/** Concatenated text of the parts of one type. */
export function textOf(parts: readonly CodecPart[], type: 'text' | 'thinking'): string {
  return parts
    .filter((part): part is Extract<CodecPart, { type: 'text' | 'thinking' }> => part.type === type)
    .map((part) => part.text)
    .join('');
}
