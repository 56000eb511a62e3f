import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeGguf, type GgufValue, readGgufMetadata } from './gguf.js';
import { TINY_MODEL_CHAT_TEMPLATE, tinyModelGguf, writeTinyModel } from './tiny-model.js';

const folder = mkdtempSync(join(tmpdir(), 'sluice-gguf-'));

describe('GGUF writer and metadata reader', () => {
  it('writes the header, metadata, tensor infos and aligned data that the format specifies', () => {
    const metadata = new Map<string, GgufValue>([
      ['general.architecture', { type: 'string', value: 'llama' }],
      ['answer', { type: 'uint32', value: 42 }],
      ['flag', { type: 'bool', value: true }],
    ]);
    const bytes = encodeGguf(metadata, [{ name: 'a', dims: [3], data: new Float32Array([1, 2, 3]) }]);
    expect(bytes.toString('latin1', 0, 4)).toBe('GGUF');
    expect(bytes.readUInt32LE(4)).toBe(3);
    expect(bytes.readBigUInt64LE(8)).toBe(1n);
    expect(bytes.readBigUInt64LE(16)).toBe(3n);
    // The data section starts at the first multiple of 32 after the tensor infos.
    expect(bytes.length % 32).toBe(0);
    const dataStart = bytes.length - 32;
    expect([0, 1, 2].map((index) => bytes.readFloatLE(dataStart + index * 4))).toEqual([1, 2, 3]);
    expect(() => encodeGguf(metadata, [{ name: 'b', dims: [2, 2], data: new Float32Array(3) }])).toThrow(
      /3 values for dims 2x2/,
    );
  });

  it('reads metadata back without the tensors: scalars and strings decoded, arrays summarised', async () => {
    const path = join(folder, 'round.gguf');
    writeFileSync(
      path,
      encodeGguf(
        new Map<string, GgufValue>([
          ['text', { type: 'string', value: 'héllo €' }],
          ['count', { type: 'int32', value: -5 }],
          ['ratio', { type: 'float32', value: 0.5 }],
          ['tokens', { type: 'string[]', value: ['a', 'bb', 'ccc'] }],
          ['ids', { type: 'int32[]', value: [1, 2] }],
        ]),
        [],
      ),
    );
    const read = await readGgufMetadata(path);
    expect(Object.fromEntries(read)).toEqual({
      text: 'héllo €',
      count: -5,
      ratio: 0.5,
      tokens: { array: 8, length: 3 },
      ids: { array: 5, length: 2 },
    });
  });

  it('refuses a file that is not GGUF, or that ends inside its header, with a plain message', async () => {
    const notGguf = join(folder, 'not.gguf');
    writeFileSync(notGguf, 'hello, this is text');
    await expect(readGgufMetadata(notGguf)).rejects.toThrow('not a GGUF file');
    const truncated = join(folder, 'cut.gguf');
    writeFileSync(truncated, tinyModelGguf().subarray(0, 200));
    await expect(readGgufMetadata(truncated)).rejects.toThrow('ends inside its GGUF header');
  });
});

describe('the tiny model', () => {
  it('is the same bytes every time, a few MB, a llama model with a byte-level vocabulary and a chat template', async () => {
    const path = join(folder, 'tiny.gguf');
    await writeTinyModel(path);
    const bytes = readFileSync(path);
    expect(bytes.equals(tinyModelGguf())).toBe(true);
    expect(bytes.length).toBeGreaterThan(2_000_000);
    expect(bytes.length).toBeLessThan(8_000_000);
    const metadata = await readGgufMetadata(path);
    expect(metadata.get('general.architecture')).toBe('llama');
    expect(metadata.get('tokenizer.ggml.model')).toBe('gpt2');
    expect(metadata.get('tokenizer.ggml.tokens')).toEqual({ array: 8, length: 259 });
    expect(metadata.get('tokenizer.chat_template')).toBe(TINY_MODEL_CHAT_TEMPLATE);
  });
});
