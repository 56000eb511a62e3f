import { isNonArrayObject, type JsonObject } from '../../core/json.js';
import type { WireEvent } from '../../core/wire-parse.js';
import { createOpenAiCodec } from '../openai/codec.js';
import type { CodecPart, StreamCodec } from '../types.js';

/**
 * Together streams Chat Completions chunks (docs/wire.md §4), so the OpenAI codec does the work:
 * it already maps `finish_reason: "eos"` to stop, reads `usage` from the finish chunk, ignores
 * `choices[].text` (a copy of `delta.content`), `token_id`, `seed` and `tool_calls: null`, and
 * classifies `{"error": {"message": "Model is at capacity"}}` as overloaded.
 *
 * What this adapter adds, before the chunk reaches that codec, are the shapes only Together
 * (and the TGI servers behind its older API) produce:
 * - `{"error": "<text>", "error_type": "<kind>"}`: TGI's error, with a string `error` and its
 *   kind beside it (huggingface_hub#2558); the kind is folded into an OpenAI-style error object.
 * - the 2024 chunk format with `finish_reason` at the top level instead of in the choice.
 */

/** TGI `error_type` values (text-generation-inference `ErrorResponse`) onto OpenAI error types. */
function openAiTypeForTgi(errorType: unknown): string {
  switch (errorType) {
    case 'validation':
      return 'invalid_request_error';
    case 'overloaded':
      return 'overloaded';
    default:
      // 'generation', 'incomplete_generation', and anything newer: the server failed.
      return 'server_error';
  }
}

function normalizeChunk(chunk: JsonObject): JsonObject {
  if (typeof chunk.error === 'string') {
    return { error: { message: chunk.error, type: openAiTypeForTgi(chunk.error_type) } };
  }
  const topLevelReason = chunk.finish_reason;
  const choices = chunk.choices;
  if (typeof topLevelReason !== 'string' || !Array.isArray(choices)) return chunk;
  const [first, ...rest] = choices;
  if (!isNonArrayObject(first) || typeof first.finish_reason === 'string') return chunk;
  return { ...chunk, choices: [{ ...first, finish_reason: topLevelReason }, ...rest] };
}

export function createTogetherCodec(): StreamCodec {
  const inner = createOpenAiCodec('Together');
  return {
    push(event: WireEvent): CodecPart[] {
      if (event.type === 'message' && isNonArrayObject(event.data)) {
        return inner.push({ ...event, data: normalizeChunk(event.data) });
      }
      return inner.push(event);
    },
    end(): CodecPart[] {
      return inner.end();
    },
  };
}
