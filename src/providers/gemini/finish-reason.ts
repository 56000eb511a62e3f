import type { CodecPart } from '../types.js';

type MappedReason = Extract<CodecPart, { type: 'finish' }>['reason'];

/** What a Gemini `finishReason` means for the stream. */
type GeminiFinish =
  /** The model ended its answer (or was cut): a `finish` part. */
  | { kind: 'finish'; reason: MappedReason }
  /** The generation failed: an `error` part, never a finish that would look like an answer. */
  | { kind: 'error' }
  /** Not a finish at all. */
  | { kind: 'none' };

/**
 * `Candidate.FinishReason` (docs/wire.md §3.5) onto the contract. Decisions:
 * - a function call ends with `STOP` (there is no tool reason); the generation layer turns it
 *   into `tool_calls`;
 * - every moderation stop (`SAFETY`, `RECITATION`, `BLOCKLIST`, `PROHIBITED_CONTENT`, `SPII`,
 *   `LANGUAGE`, `IMAGE_*`, Vertex's `MODEL_ARMOR`) is `content_filter`;
 * - `MALFORMED_FUNCTION_CALL`, `UNEXPECTED_TOOL_CALL`, `TOO_MANY_TOOL_CALLS`, `OTHER`, `NO_IMAGE`
 *   and any value added after this was written are errors: the answer is not complete and
 *   must not look complete;
 * - `FINISH_REASON_UNSPECIFIED` (the proto default) is ignored.
 */
export function mapGeminiFinishReason(reason: string): GeminiFinish {
  switch (reason) {
    case 'FINISH_REASON_UNSPECIFIED':
    case '':
      return { kind: 'none' };
    case 'STOP':
      return { kind: 'finish', reason: 'stop' };
    case 'MAX_TOKENS':
      return { kind: 'finish', reason: 'length' };
    case 'SAFETY':
    case 'RECITATION':
    case 'BLOCKLIST':
    case 'PROHIBITED_CONTENT':
    case 'SPII':
    case 'LANGUAGE':
    case 'MODEL_ARMOR':
      return { kind: 'finish', reason: 'content_filter' };
    default:
      if (reason.startsWith('IMAGE_')) return { kind: 'finish', reason: 'content_filter' };
      return { kind: 'error' };
  }
}

/**
 * `promptFeedback.blockReason`: the prompt itself was refused and no candidate follows.
 * `BLOCK_REASON_UNSPECIFIED` means nothing was blocked.
 */
export function isPromptBlocked(blockReason: unknown): blockReason is string {
  return (
    typeof blockReason === 'string' && blockReason.length > 0 && blockReason !== 'BLOCK_REASON_UNSPECIFIED'
  );
}
