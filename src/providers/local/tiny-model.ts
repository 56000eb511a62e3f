import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { encodeGguf, type GgufTensor, type GgufValue } from './gguf.js';

/**
 * A small random-weight model in the llama architecture, for demos and tests where no real model
 * can be downloaded: about 3.7 MB, a byte-level BPE vocabulary (one token per byte, no merges, so
 * any text tokenizes), ChatML special tokens and a ChatML chat template. Its answers are noise,
 * but every byte of them goes through the real runtime: tokenizer, template, sampling, streaming.
 *
 * The weights are random from a fixed seed (the file is the same on every machine), shaped so the
 * noise is mostly lower-case letters and spaces, ends now and then with `<|im_end|>`, and now and
 * then spells "é" (two tokens) or "€" (three): byte tokens that split one character, which the
 * streaming path must hold back until the character is whole.
 */

/** Changes whenever the file the writer produces changes, so a cached copy is never stale. */
const TINY_MODEL_VERSION = 1;
export const TINY_MODEL_FILE_NAME = 'sluice-tiny.gguf';

const EMBEDDING = 128;
const LAYERS = 4;
const HEADS = 4;
const FEED_FORWARD = 384;
const CONTEXT = 2048;

/** Token ids: the 256 bytes, then `<|endoftext|>` (256, BOS), `<|im_start|>` (257), `<|im_end|>` (258, EOS). */
const SPECIAL_TOKENS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'] as const;
const BOS = 256;
const IM_END = 258;
const VOCABULARY = 256 + SPECIAL_TOKENS.length;

/** The ChatML template as Qwen2 ships it; node-llama-cpp recognises it as its ChatML wrapper. */
export const TINY_MODEL_CHAT_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/**
 * GPT-2's byte-to-character table: printable bytes stand for themselves, the others for the
 * characters from U+0100 on. A byte-level BPE vocabulary names each byte's token this way.
 */
function byteTokenText(byte: number): string {
  const printable = (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || byte >= 0xae;
  if (printable) return String.fromCharCode(byte);
  let shifted = 0;
  for (let other = 0; other < byte; other++) {
    const otherPrintable =
      (other >= 0x21 && other <= 0x7e) || (other >= 0xa1 && other <= 0xac) || other >= 0xae;
    if (!otherPrintable) shifted++;
  }
  return String.fromCharCode(0x100 + shifted);
}

/** xorshift32 with Box-Muller normals: a fixed seed gives the same weights everywhere. */
function normalSource(seed: number): () => number {
  let state = seed >>> 0 || 1;
  const uniform = (): number => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return (state + 1) / 4294967297;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

/**
 * Residual-stream dimensions reserved for three hand-wired bigrams: a token whose embedding is
 * large on dimension d makes the token whose output row reads d follow it. No layer writes to
 * these dimensions, so the rest of the network cannot trigger them.
 */
const BIGRAMS: readonly (readonly [from: number, to: number])[] = [
  [0xc3, 0xa9], // é = C3 A9
  [0xe2, 0x82], // € = E2 82 AC
  [0x82, 0xac],
];
/**
 * One more reserved dimension that every embedding holds at the same positive value: an output
 * row reading it negatively is a bias against its token (llama has no output bias of its own).
 */
const BIAS_DIMENSION = BIGRAMS.length;
const RESERVED = BIGRAMS.length + 1;

/** Output rows that sample often (the noise is mostly these), then rarer ones, then never. */
const COMMON = new Set([...'abcdefghijklmnopqrstuvwxyz '].map((character) => character.charCodeAt(0)));
const COMMON_SCALE = 1.5;
const OCCASIONAL_SCALE = 0.75;
const END_SCALE = 1.2;
const OCCASIONAL = new Set(
  [...'ABCDEFGHIJKLMNOPQRSTUVWXYZ.,!?\n'].map((character) => character.charCodeAt(0)),
);

function tensors(): GgufTensor[] {
  const normal = normalSource(2);
  const matrix = (columns: number, rows: number, scale: number): Float32Array => {
    const data = new Float32Array(columns * rows);
    for (let index = 0; index < data.length; index++) data[index] = normal() * scale;
    return data;
  };
  const ones = (length: number): Float32Array => new Float32Array(length).fill(1);
  /** Rows of a `[EMBEDDING, rows]` matrix that write to the residual stream leave the reserved dimensions alone. */
  const sparingReserved = (data: Float32Array, columns: number): Float32Array => {
    for (let row = 0; row < RESERVED; row++) data.fill(0, row * columns, (row + 1) * columns);
    return data;
  };

  const embedding = matrix(EMBEDDING, VOCABULARY, 1);
  const output = new Float32Array(EMBEDDING * VOCABULARY);
  const rowScale = (token: number): number => {
    if (COMMON.has(token) || token === 0xc3 || token === 0xe2) return COMMON_SCALE;
    if (OCCASIONAL.has(token)) return OCCASIONAL_SCALE;
    if (token === IM_END) return END_SCALE;
    return 0;
  };
  for (let token = 0; token < VOCABULARY; token++) {
    const row = token * EMBEDDING;
    for (let dimension = 0; dimension < EMBEDDING; dimension++) {
      // Tokens take no part in the reserved dimensions, except through the bigrams below.
      if (dimension < RESERVED) embedding[row + dimension] = 0;
      else output[row + dimension] = (normal() * rowScale(token)) / Math.sqrt(EMBEDDING);
    }
    embedding[row + BIAS_DIMENSION] = 2;
    // Every other token (control bytes, lone UTF-8 continuation bytes, BOS) is never sampled.
    if (rowScale(token) === 0) output[row + BIAS_DIMENSION] = -8;
  }
  BIGRAMS.forEach(([from, to], dimension) => {
    embedding[from * EMBEDDING + dimension] = 30;
    output[to * EMBEDDING + dimension] = 6;
  });

  const all: GgufTensor[] = [
    { name: 'token_embd.weight', dims: [EMBEDDING, VOCABULARY], data: embedding },
    { name: 'output_norm.weight', dims: [EMBEDDING], data: ones(EMBEDDING) },
    { name: 'output.weight', dims: [EMBEDDING, VOCABULARY], data: output },
  ];
  const inputScale = 1 / Math.sqrt(EMBEDDING);
  for (let layer = 0; layer < LAYERS; layer++) {
    const name = (tensor: string): string => `blk.${layer}.${tensor}.weight`;
    all.push(
      { name: name('attn_norm'), dims: [EMBEDDING], data: ones(EMBEDDING) },
      { name: name('attn_q'), dims: [EMBEDDING, EMBEDDING], data: matrix(EMBEDDING, EMBEDDING, inputScale) },
      { name: name('attn_k'), dims: [EMBEDDING, EMBEDDING], data: matrix(EMBEDDING, EMBEDDING, inputScale) },
      { name: name('attn_v'), dims: [EMBEDDING, EMBEDDING], data: matrix(EMBEDDING, EMBEDDING, inputScale) },
      {
        name: name('attn_output'),
        dims: [EMBEDDING, EMBEDDING],
        data: sparingReserved(matrix(EMBEDDING, EMBEDDING, inputScale), EMBEDDING),
      },
      { name: name('ffn_norm'), dims: [EMBEDDING], data: ones(EMBEDDING) },
      {
        name: name('ffn_gate'),
        dims: [EMBEDDING, FEED_FORWARD],
        data: matrix(EMBEDDING, FEED_FORWARD, inputScale),
      },
      {
        name: name('ffn_up'),
        dims: [EMBEDDING, FEED_FORWARD],
        data: matrix(EMBEDDING, FEED_FORWARD, inputScale),
      },
      {
        name: name('ffn_down'),
        dims: [FEED_FORWARD, EMBEDDING],
        data: sparingReserved(matrix(FEED_FORWARD, EMBEDDING, 1 / Math.sqrt(FEED_FORWARD)), FEED_FORWARD),
      },
    );
  }
  return all;
}

function metadata(): Map<string, GgufValue> {
  const tokens = [...Array.from({ length: 256 }, (_, byte) => byteTokenText(byte)), ...SPECIAL_TOKENS];
  // 1 = normal, 3 = control (llama.cpp's token types).
  const tokenTypes = tokens.map((_, token) => (token < 256 ? 1 : 3));
  return new Map<string, GgufValue>([
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['general.name', { type: 'string', value: 'Sluice tiny random model' }],
    ['general.file_type', { type: 'uint32', value: 0 }], // all f32
    ['general.alignment', { type: 'uint32', value: 32 }],
    ['llama.context_length', { type: 'uint32', value: CONTEXT }],
    ['llama.embedding_length', { type: 'uint32', value: EMBEDDING }],
    ['llama.block_count', { type: 'uint32', value: LAYERS }],
    ['llama.feed_forward_length', { type: 'uint32', value: FEED_FORWARD }],
    ['llama.attention.head_count', { type: 'uint32', value: HEADS }],
    ['llama.attention.head_count_kv', { type: 'uint32', value: HEADS }],
    ['llama.attention.layer_norm_rms_epsilon', { type: 'float32', value: 1e-5 }],
    ['llama.rope.dimension_count', { type: 'uint32', value: EMBEDDING / HEADS }],
    ['llama.rope.freq_base', { type: 'float32', value: 10_000 }],
    ['llama.vocab_size', { type: 'uint32', value: VOCABULARY }],
    ['tokenizer.ggml.model', { type: 'string', value: 'gpt2' }],
    ['tokenizer.ggml.pre', { type: 'string', value: 'default' }],
    ['tokenizer.ggml.tokens', { type: 'string[]', value: tokens }],
    ['tokenizer.ggml.token_type', { type: 'int32[]', value: tokenTypes }],
    ['tokenizer.ggml.merges', { type: 'string[]', value: [] }],
    ['tokenizer.ggml.bos_token_id', { type: 'uint32', value: BOS }],
    ['tokenizer.ggml.eos_token_id', { type: 'uint32', value: IM_END }],
    ['tokenizer.ggml.padding_token_id', { type: 'uint32', value: BOS }],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: false }],
    ['tokenizer.chat_template', { type: 'string', value: TINY_MODEL_CHAT_TEMPLATE }],
  ]);
}

/** The tiny model's file, byte for byte the same on every call. */
export function tinyModelGguf(): Buffer {
  return encodeGguf(metadata(), tensors());
}

/** Writes the tiny model to `path`, through a temporary file, so no reader ever sees half of it. */
export async function writeTinyModel(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    await writeFile(temporary, tinyModelGguf());
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** Where demo mode keeps the tiny model: the user's cache folder (XDG), else the system's temp folder. */
export function defaultTinyModelPath(env: Record<string, string | undefined>): string {
  const cache = env.XDG_CACHE_HOME || (homedir() ? join(homedir(), '.cache') : tmpdir());
  return join(cache, 'sluice', `tiny-model-v${TINY_MODEL_VERSION}`, TINY_MODEL_FILE_NAME);
}
