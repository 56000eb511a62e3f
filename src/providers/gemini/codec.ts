import { redactSecrets } from '../../core/errors.js';
import { isNonArrayObject } from '../../core/json.js';
import { createObjectCodec } from '../object-codec.js';
import type { CodecPart, StreamCodec, UsageCounts } from '../types.js';
import { classifyGoogleError, readGoogleError } from './errors.js';
import { isPromptBlocked, mapGeminiFinishReason } from './finish-reason.js';

/**
 * `streamGenerateContent?alt=sse` chunks -> parts (docs/wire.md §3.2-3.7). Every chunk is a whole
 * `GenerateContentResponse`: parts are complete (a function call arrives whole, with its `args`
 * object), `usageMetadata` is a cumulative snapshot, and the stream ends at EOF after the chunk
 * carrying `finishReason`; there is no end marker.
 */

interface GeminiPart {
  text?: unknown;
  thought?: unknown;
  thoughtSignature?: unknown;
  functionCall?: { id?: unknown; name?: unknown; args?: unknown } | null;
}
interface GeminiCandidate {
  index?: unknown;
  content?: { parts?: unknown } | null;
  finishReason?: unknown;
  finishMessage?: unknown;
}
interface GeminiUsage {
  promptTokenCount?: unknown;
  candidatesTokenCount?: unknown;
  thoughtsTokenCount?: unknown;
  toolUsePromptTokenCount?: unknown;
}
interface GeminiChunk {
  candidates?: unknown;
  promptFeedback?: { blockReason?: unknown } | null;
  usageMetadata?: GeminiUsage | null;
  modelVersion?: unknown;
  responseId?: unknown;
  error?: unknown;
}

const count = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isFinite(value) ? value : undefined;

/**
 * Gemini's counts onto ours. Reasoning is billed as output, so output = candidates + thoughts;
 * `candidatesTokenCount` is missing from chunks that only carried thoughts (it is 0 then), and
 * `toolUsePromptTokenCount` is input the model read from tools.
 */
function geminiUsage(usage: GeminiUsage): Partial<UsageCounts> {
  const prompt = count(usage.promptTokenCount);
  const thoughts = count(usage.thoughtsTokenCount);
  return {
    ...(prompt !== undefined ? { inputTokens: prompt + (count(usage.toolUsePromptTokenCount) ?? 0) } : {}),
    outputTokens: (count(usage.candidatesTokenCount) ?? 0) + (thoughts ?? 0),
    ...(thoughts !== undefined ? { thinkingTokens: thoughts } : {}),
  };
}

export function createGeminiCodec(): StreamCodec {
  let metadataSent = false;
  let finished = false;
  let toolCount = 0;
  let lastUsage = '';

  /**
   * A thought signature goes back on the part that carried it in the next turn (Gemini 3 refuses
   * a replayed function call without its own): kept with which part that was.
   */
  const onSignature = (
    part: GeminiPart,
    kind: string,
    index: number | undefined,
    parts: CodecPart[],
  ): void => {
    if (typeof part.thoughtSignature !== 'string' || part.thoughtSignature.length === 0) return;
    const item: Record<string, unknown> = { part: kind, signature: part.thoughtSignature };
    if (index !== undefined) item.index = index;
    parts.push({ type: 'reasoning_state', item });
  };

  const onPart = (part: GeminiPart, parts: CodecPart[]): void => {
    const call = part.functionCall;
    if (isNonArrayObject(call) && typeof call.name === 'string' && call.name.length > 0) {
      const index = toolCount++;
      const id = typeof call.id === 'string' && call.id.length > 0 ? call.id : `call_${index}`;
      parts.push({ type: 'tool_call_start', index, id, name: call.name });
      parts.push({
        type: 'tool_call',
        index,
        id,
        name: call.name,
        arguments: JSON.stringify(call.args ?? {}),
      });
      onSignature(part, 'function_call', index, parts);
      return;
    }
    // Other part kinds (inlineData, executableCode, ...) come only from features the gateway
    // never requests. An empty text part only carries a `thoughtSignature` (docs/wire.md §3.3).
    const thought = part.thought === true;
    onSignature(part, thought ? 'thought' : 'text', undefined, parts);
    if (typeof part.text !== 'string' || part.text.length === 0) return;
    parts.push({ type: thought ? 'thinking' : 'text', text: part.text });
  };

  const onFinish = (candidate: GeminiCandidate, parts: CodecPart[]): void => {
    const raw = typeof candidate.finishReason === 'string' ? candidate.finishReason : '';
    const mapped = mapGeminiFinishReason(raw);
    if (mapped.kind === 'none' || finished) return;
    finished = true;
    if (mapped.kind === 'finish') {
      parts.push({ type: 'finish', reason: mapped.reason, rawReason: raw });
      return;
    }
    const detail = typeof candidate.finishMessage === 'string' ? `: ${candidate.finishMessage}` : '';
    // Not retryable: a malformed or unexpected call is the model's output, and a retry pays again.
    parts.push({
      type: 'error',
      code: 'upstream_error',
      message: redactSecrets(`Gemini ended the answer with finishReason ${raw}${detail}`),
      retryable: false,
    });
  };

  const onChunk = (chunk: GeminiChunk, parts: CodecPart[]): void => {
    const error = readGoogleError(chunk);
    if (error !== undefined) {
      const classified = classifyGoogleError(error);
      const message = redactSecrets(`Gemini: ${error.message ?? error.status ?? 'error in the stream'}`);
      parts.push({ type: 'error', code: classified.code, message, retryable: classified.retryable });
      return;
    }
    const usage = isNonArrayObject(chunk.usageMetadata) ? chunk.usageMetadata : undefined;
    if (!metadataSent && (typeof chunk.responseId === 'string' || typeof chunk.modelVersion === 'string')) {
      metadataSent = true;
      const inputTokens = count(usage?.promptTokenCount);
      parts.push({
        type: 'metadata',
        upstreamId: typeof chunk.responseId === 'string' ? chunk.responseId : null,
        upstreamModel: typeof chunk.modelVersion === 'string' ? chunk.modelVersion : null,
        ...(inputTokens !== undefined ? { inputTokens } : {}),
      });
    }
    // One candidate unless `candidateCount` asks for more, which the gateway never does.
    const candidates = Array.isArray(chunk.candidates)
      ? (chunk.candidates.filter(isNonArrayObject) as GeminiCandidate[])
      : [];
    const candidate = candidates.find((entry) => (entry.index ?? 0) === 0) ?? candidates[0];
    const content = candidate?.content?.parts;
    if (Array.isArray(content)) {
      for (const part of content as GeminiPart[]) if (isNonArrayObject(part)) onPart(part, parts);
    }
    if (usage !== undefined) {
      const counts = geminiUsage(usage);
      // Every chunk repeats the snapshot; report it only when it moved.
      const key = JSON.stringify(counts);
      if (key !== lastUsage) {
        lastUsage = key;
        parts.push({ type: 'usage', usage: counts });
      }
    }
    if (candidate !== undefined) onFinish(candidate, parts);
    const blockReason = chunk.promptFeedback?.blockReason;
    if (isPromptBlocked(blockReason) && !finished) {
      finished = true;
      parts.push({ type: 'finish', reason: 'content_filter', rawReason: blockReason });
    }
  };

  // `eventName` is undefined both for `data:` events and for the raw error text that Gemini
  // writes outside SSE fields (the wire parser collects it, docs/wire.md §3.7).
  return createObjectCodec({
    displayName: 'Gemini',
    unit: 'event',
    acceptArrays: true,
    onObject: (data, _eventName, parts) => onChunk(data as GeminiChunk, parts),
  });
}
