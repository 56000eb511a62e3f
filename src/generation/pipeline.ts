import type { StreamFailure } from '../core/errors.js';
import { createWireParser, type Framing, type JsonReader, type WireEvent } from '../core/wire-parse.js';
import type { Frame } from '../protocol/frames.js';
import type { CodecPart, StreamCodec } from '../providers/types.js';
import type { FrameEmitter } from './emitter.js';

/** What the pipeline needs of a provider: how its body is framed, and a fresh codec. */
export interface StreamSource {
  framing: Framing;
  createCodec(): StreamCodec;
  /** A faster reader of the stream's JSON events, one per stream (JSON.parse when absent). */
  createJsonReader?(): JsonReader;
}

/** Upstream bytes -> wire events -> codec parts: one attempt's parser and codec. */
export interface PartStream {
  push(bytes: Uint8Array): CodecPart[];
  /** The body ended: the parser's last event and the codec's verdict. */
  end(): CodecPart[];
}

export function createPartStream(source: StreamSource): PartStream {
  const parser = createWireParser(source.framing, source.createJsonReader?.());
  const codec = source.createCodec();
  const decode = (events: readonly WireEvent[], out: CodecPart[]): CodecPart[] => {
    for (const event of events) for (const part of codec.push(event)) out.push(part);
    return out;
  };
  return {
    push: (bytes) => decode(parser.push(bytes), []),
    end: () => {
      const parts = decode(parser.end(), []);
      for (const part of codec.end()) parts.push(part);
      return parts;
    },
  };
}

/** The frames one upstream read produced, and the failure it ended with, if any. */
export interface PipelineStep {
  readonly frames: Frame[];
  readonly failure: StreamFailure | undefined;
  /** The emitter's token budget was reached: nothing more comes from this attempt. */
  readonly budgetHit: boolean;
}

/** Upstream bytes -> contract frames, for one attempt of a generation. */
export interface FramePipeline {
  push(bytes: Uint8Array): PipelineStep;
  end(): PipelineStep;
}

const isError = (part: CodecPart): boolean => part.type === 'error';

/**
 * The one chain from bytes to frames: wire parser -> provider codec -> frame emitter. Frames
 * stop at the first error part, which becomes the step's failure (the run decides whether it
 * retries or ends the stream), and at the part that reaches the token budget; nothing is
 * produced after either.
 */
export function createFramePipeline(source: StreamSource, emitter: FrameEmitter): FramePipeline {
  const parser = createWireParser(source.framing, source.createJsonReader?.());
  const codec = source.createCodec();
  let failed = false;

  const emit = (parts: readonly CodecPart[], frames: Frame[]): StreamFailure | undefined => {
    const errorAt = parts.findIndex(isError);
    if (errorAt === -1) {
      emitter.frames(parts, frames);
      return undefined;
    }
    emitter.frames(parts.slice(0, errorAt), frames);
    const part = parts[errorAt];
    return part?.type === 'error'
      ? { code: part.code, message: part.message, retryable: part.retryable }
      : undefined;
  };

  const run = (events: readonly WireEvent[], final: boolean): PipelineStep => {
    // A new array each time: emptying one in place (`length = 0`) is a runtime call in V8.
    const frames: Frame[] = [];
    if (failed) return { frames, failure: undefined, budgetHit: false };
    let failure: StreamFailure | undefined;
    for (const event of events) {
      failure = emit(codec.push(event), frames);
      if (failure !== undefined || emitter.budgetHit) break;
    }
    if (final && failure === undefined && !emitter.budgetHit) failure = emit(codec.end(), frames);
    if (failure !== undefined || emitter.budgetHit) failed = true;
    return { frames, failure, budgetHit: emitter.budgetHit };
  };

  return {
    push: (bytes) => run(parser.push(bytes), false),
    end: () => run(parser.end(), true),
  };
}
