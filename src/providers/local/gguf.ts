import { open } from 'node:fs/promises';

/**
 * The GGUF file format (llama.cpp's `docs/gguf.md`, version 3), little-endian throughout:
 *
 *   magic "GGUF", version u32, tensor count u64, metadata count u64
 *   metadata: key (string), value type u32, value        -- strings are u64 length + UTF-8
 *   tensor infos: name, dimension count u32, dimensions u64 (innermost first), ggml type u32,
 *                 offset u64 (from the start of the data section, a multiple of the alignment)
 *   padding to `general.alignment` (32 when absent), then the tensor data, each tensor aligned
 *
 * The writer covers what a small model needs (scalars, strings, arrays, f32 tensors); the reader
 * reads the metadata alone, without the tensors, so a gateway can learn a model's name and chat
 * template at start without loading it.
 */

const MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
const VERSION = 3;
const DEFAULT_ALIGNMENT = 32;

/** GGUF metadata value types, as the format numbers them. */
const ValueType = {
  uint8: 0,
  int8: 1,
  uint16: 2,
  int16: 3,
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10,
  int64: 11,
  float64: 12,
} as const;

/** ggml's tensor type for 32-bit floats. */
const GGML_TYPE_F32 = 0;

/** A metadata value to write, typed the way the file will store it. */
export type GgufValue =
  | { type: 'string'; value: string }
  | { type: 'uint32'; value: number }
  | { type: 'int32'; value: number }
  | { type: 'float32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string[]'; value: readonly string[] }
  | { type: 'int32[]'; value: readonly number[] }
  | { type: 'float32[]'; value: readonly number[] };

/** One f32 tensor; `dims` innermost first, as ggml counts them (a matrix is `[columns, rows]`). */
export interface GgufTensor {
  name: string;
  dims: readonly number[];
  data: Float32Array;
}

/** Appends little-endian values to a list of buffers, joined once at the end. */
class ByteWriter {
  private readonly pieces: Buffer[] = [];
  length = 0;

  private push(piece: Buffer): void {
    this.pieces.push(piece);
    this.length += piece.length;
  }

  u32(value: number): void {
    const piece = Buffer.alloc(4);
    piece.writeUInt32LE(value);
    this.push(piece);
  }

  i32(value: number): void {
    const piece = Buffer.alloc(4);
    piece.writeInt32LE(value);
    this.push(piece);
  }

  u64(value: number): void {
    const piece = Buffer.alloc(8);
    piece.writeBigUInt64LE(BigInt(value));
    this.push(piece);
  }

  f32(value: number): void {
    const piece = Buffer.alloc(4);
    piece.writeFloatLE(value);
    this.push(piece);
  }

  string(value: string): void {
    const bytes = Buffer.from(value, 'utf8');
    this.u64(bytes.length);
    this.push(bytes);
  }

  bytes(piece: Buffer): void {
    this.push(piece);
  }

  padTo(alignment: number): void {
    const rest = this.length % alignment;
    if (rest !== 0) this.push(Buffer.alloc(alignment - rest));
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.pieces, this.length);
  }
}

function writeValue(out: ByteWriter, value: GgufValue): void {
  switch (value.type) {
    case 'string':
      out.u32(ValueType.string);
      out.string(value.value);
      return;
    case 'uint32':
      out.u32(ValueType.uint32);
      out.u32(value.value);
      return;
    case 'int32':
      out.u32(ValueType.int32);
      out.i32(value.value);
      return;
    case 'float32':
      out.u32(ValueType.float32);
      out.f32(value.value);
      return;
    case 'bool':
      out.u32(ValueType.bool);
      out.bytes(Buffer.from([value.value ? 1 : 0]));
      return;
    case 'string[]':
      out.u32(ValueType.array);
      out.u32(ValueType.string);
      out.u64(value.value.length);
      for (const item of value.value) out.string(item);
      return;
    case 'int32[]':
      out.u32(ValueType.array);
      out.u32(ValueType.int32);
      out.u64(value.value.length);
      for (const item of value.value) out.i32(item);
      return;
    case 'float32[]':
      out.u32(ValueType.array);
      out.u32(ValueType.float32);
      out.u64(value.value.length);
      for (const item of value.value) out.f32(item);
      return;
    default: {
      const exhaustive: never = value;
      throw new Error(`unhandled GGUF value ${JSON.stringify(exhaustive)}`);
    }
  }
}

/** A whole GGUF file: header, metadata, tensor infos, then the aligned f32 tensor data. */
export function encodeGguf(metadata: ReadonlyMap<string, GgufValue>, tensors: readonly GgufTensor[]): Buffer {
  const alignmentValue = metadata.get('general.alignment');
  const alignment = alignmentValue?.type === 'uint32' ? alignmentValue.value : DEFAULT_ALIGNMENT;
  const out = new ByteWriter();
  out.u32(MAGIC);
  out.u32(VERSION);
  out.u64(tensors.length);
  out.u64(metadata.size);
  for (const [key, value] of metadata) {
    out.string(key);
    writeValue(out, value);
  }
  let offset = 0;
  for (const tensor of tensors) {
    const elements = tensor.dims.reduce((product, dim) => product * dim, 1);
    if (elements !== tensor.data.length) {
      throw new Error(
        `tensor ${tensor.name}: ${tensor.data.length} values for dims ${tensor.dims.join('x')}`,
      );
    }
    out.string(tensor.name);
    out.u32(tensor.dims.length);
    for (const dim of tensor.dims) out.u64(dim);
    out.u32(GGML_TYPE_F32);
    out.u64(offset);
    offset += Math.ceil(tensor.data.byteLength / alignment) * alignment;
  }
  out.padTo(alignment);
  for (const tensor of tensors) {
    // Copied rather than viewed: a Float32Array's buffer may be shared or misaligned.
    const bytes = Buffer.alloc(tensor.data.byteLength);
    for (let index = 0; index < tensor.data.length; index++) {
      bytes.writeFloatLE(tensor.data[index] ?? 0, index * 4);
    }
    out.bytes(bytes);
    out.padTo(alignment);
  }
  return out.toBuffer();
}

/** A metadata value as read: scalars and strings decoded, arrays summarised (they can hold a whole vocabulary). */
export type GgufReadValue = string | number | bigint | boolean | { array: number; length: number };

/** Reads a file forwards in chunks, so a multi-gigabyte model costs only its metadata. */
class ChunkedReader {
  private buffer = Buffer.alloc(0);
  private position = 0;
  private fileOffset = 0;

  constructor(
    private readonly read: (target: Buffer, fileOffset: number) => Promise<number>,
    private readonly chunkBytes: number,
  ) {}

  /** Makes `bytes` more bytes available at the cursor, or throws at the end of the file. */
  private async ensure(bytes: number): Promise<void> {
    while (this.buffer.length - this.position < bytes) {
      const chunk = Buffer.alloc(Math.max(this.chunkBytes, bytes));
      const got = await this.read(chunk, this.fileOffset);
      if (got === 0) throw new Error('the file ends inside its GGUF header');
      this.fileOffset += got;
      this.buffer = Buffer.concat([this.buffer.subarray(this.position), chunk.subarray(0, got)]);
      this.position = 0;
    }
  }

  async u32(): Promise<number> {
    await this.ensure(4);
    const value = this.buffer.readUInt32LE(this.position);
    this.position += 4;
    return value;
  }

  async u64(): Promise<bigint> {
    await this.ensure(8);
    const value = this.buffer.readBigUInt64LE(this.position);
    this.position += 8;
    return value;
  }

  /** A length or count: refused when it could not fit in memory anyway. */
  async count(): Promise<number> {
    const value = await this.u64();
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('a GGUF length is out of range');
    return Number(value);
  }

  async string(): Promise<string> {
    const length = await this.count();
    await this.ensure(length);
    const value = this.buffer.toString('utf8', this.position, this.position + length);
    this.position += length;
    return value;
  }

  async skip(bytes: number): Promise<void> {
    await this.ensure(bytes);
    this.position += bytes;
  }

  async scalar(type: number): Promise<string | number | bigint | boolean> {
    const size = SCALAR_BYTES[type];
    if (type === ValueType.string) return this.string();
    if (size === undefined) throw new Error(`unknown GGUF value type ${type}`);
    await this.ensure(size);
    const at = this.position;
    this.position += size;
    switch (type) {
      case ValueType.uint8:
        return this.buffer.readUInt8(at);
      case ValueType.int8:
        return this.buffer.readInt8(at);
      case ValueType.uint16:
        return this.buffer.readUInt16LE(at);
      case ValueType.int16:
        return this.buffer.readInt16LE(at);
      case ValueType.uint32:
        return this.buffer.readUInt32LE(at);
      case ValueType.int32:
        return this.buffer.readInt32LE(at);
      case ValueType.float32:
        return this.buffer.readFloatLE(at);
      case ValueType.bool:
        return this.buffer.readUInt8(at) !== 0;
      case ValueType.uint64:
        return this.buffer.readBigUInt64LE(at);
      case ValueType.int64:
        return this.buffer.readBigInt64LE(at);
      default:
        return this.buffer.readDoubleLE(at);
    }
  }
}

const SCALAR_BYTES: Record<number, number> = {
  [ValueType.uint8]: 1,
  [ValueType.int8]: 1,
  [ValueType.uint16]: 2,
  [ValueType.int16]: 2,
  [ValueType.uint32]: 4,
  [ValueType.int32]: 4,
  [ValueType.float32]: 4,
  [ValueType.bool]: 1,
  [ValueType.uint64]: 8,
  [ValueType.int64]: 8,
  [ValueType.float64]: 8,
};

/**
 * The metadata of a GGUF file (versions 2 and 3), read without its tensors. Throws a plain
 * message when the file is not GGUF or ends early.
 */
export async function readGgufMetadata(path: string): Promise<Map<string, GgufReadValue>> {
  const handle = await open(path, 'r');
  try {
    const reader = new ChunkedReader(
      async (target, fileOffset) => (await handle.read(target, 0, target.length, fileOffset)).bytesRead,
      // Small models' metadata fits in one read; a large vocabulary takes a few dozen.
      64 * 1024,
    );
    if ((await reader.u32()) !== MAGIC) throw new Error('not a GGUF file (bad magic)');
    const version = await reader.u32();
    if (version !== 2 && version !== 3) throw new Error(`GGUF version ${version} is not supported`);
    await reader.count(); // tensors
    const entries = await reader.count();
    const metadata = new Map<string, GgufReadValue>();
    for (let index = 0; index < entries; index++) {
      const key = await reader.string();
      const type = await reader.u32();
      if (type !== ValueType.array) {
        metadata.set(key, await reader.scalar(type));
        continue;
      }
      const itemType = await reader.u32();
      const length = await reader.count();
      if (itemType === ValueType.string) {
        for (let item = 0; item < length; item++) await reader.skip(await reader.count());
      } else {
        const size = SCALAR_BYTES[itemType];
        if (size === undefined) throw new Error(`GGUF arrays of type ${itemType} are not supported`);
        await reader.skip(size * length);
      }
      metadata.set(key, { array: itemType, length });
    }
    return metadata;
  } finally {
    await handle.close();
  }
}
