import type { JsonObject } from '../../core/json.js';
import { STREAM_ERROR_CODES, type StreamErrorCode } from '../../protocol/frames.js';
import { createObjectCodec } from '../object-codec.js';
import type { CodecPart, StreamCodec, UsageCounts } from '../types.js';

/**
 * Local wire lines (./wire.ts) -> parts. Pure: the engine that writes the lines runs elsewhere.
 * `queued` and `loading` lines carry no content (they tell the run the engine is alive while a
 * request waits for a slot or for the model); lines of a type this codec does not know are
 * skipped, as a newer engine may add some.
 */

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined;
}

function isStreamErrorCode(value: unknown): value is StreamErrorCode {
  return typeof value === 'string' && (STREAM_ERROR_CODES as readonly string[]).includes(value);
}

/** The usage a line reports: only the counts it carries, each replacing the one before. */
function usageOf(line: JsonObject): Partial<UsageCounts> {
  const usage: Partial<UsageCounts> = {};
  const input = count(line.input_tokens);
  const output = count(line.output_tokens);
  const thinking = count(line.thinking_tokens);
  if (input !== undefined) usage.inputTokens = input;
  if (output !== undefined) usage.outputTokens = output;
  if (thinking !== undefined) usage.thinkingTokens = thinking;
  return usage;
}

export function createLocalCodec(): StreamCodec {
  let finished = false;

  const malformed = (parts: CodecPart[], what: string): void => {
    parts.push({
      type: 'error',
      code: 'internal',
      message: `the local model's stream had ${what}`,
      retryable: false,
    });
  };

  const onObject = (line: JsonObject, _event: string | undefined, parts: CodecPart[]): void => {
    if (finished) return;
    switch (line.type) {
      case 'queued':
      case 'loading':
        return;
      case 'start': {
        const model = typeof line.model === 'string' ? line.model : null;
        const inputTokens = count(line.input_tokens);
        parts.push({
          type: 'metadata',
          upstreamId: null,
          upstreamModel: model,
          ...(inputTokens !== undefined ? { inputTokens } : {}),
        });
        parts.push({ type: 'usage', usage: usageOf(line) });
        return;
      }
      case 'text':
      case 'thinking': {
        if (typeof line.text !== 'string') {
          malformed(parts, `a ${line.type} line without text`);
          return;
        }
        if (line.text.length > 0) parts.push({ type: line.type, text: line.text });
        parts.push({ type: 'usage', usage: usageOf(line) });
        return;
      }
      case 'finish': {
        finished = true;
        parts.push({ type: 'usage', usage: usageOf(line) });
        const rawReason = typeof line.stop_reason === 'string' ? line.stop_reason : String(line.reason);
        parts.push({ type: 'finish', reason: line.reason === 'length' ? 'length' : 'stop', rawReason });
        return;
      }
      case 'error': {
        const message = typeof line.message === 'string' ? line.message : 'the local model failed';
        parts.push({
          type: 'error',
          code: isStreamErrorCode(line.code) ? line.code : 'internal',
          message,
          retryable: line.retryable === true,
        });
        return;
      }
      default:
        return;
    }
  };

  return createObjectCodec({ displayName: 'the local model', unit: 'line', onObject });
}
