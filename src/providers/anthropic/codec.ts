import { createObjectCodec } from '../object-codec.js';
import type { CodecPart, StreamCodec, UsageCounts } from '../types.js';
import { classifyAnthropicError } from './errors.js';

/**
 * Messages API stream events -> parts (docs/wire.md §2.3-2.6). Content blocks are tracked by their
 * `index`, so deltas of interleaved blocks never mix; the stop reason arrives in `message_delta`
 * with cumulative usage, and `message_stop` closes the message.
 */

interface WireUsage {
  input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  output_tokens?: number | null;
  output_tokens_details?: { thinking_tokens?: number | null } | null;
}
interface WireBlock {
  type?: string;
  id?: string;
  name?: string;
  text?: string;
  thinking?: string;
  signature?: string;
  data?: string;
  input?: unknown;
}
interface WireDelta {
  type?: string;
  text?: string;
  thinking?: string;
  signature?: string;
  partial_json?: string;
  stop_reason?: string | null;
}
interface StreamEvent {
  type?: string;
  index?: number;
  message?: { id?: string; model?: string; usage?: WireUsage | null };
  content_block?: WireBlock;
  delta?: WireDelta;
  usage?: WireUsage | null;
  error?: { type?: string; message?: string } | string;
}

/** A content block being streamed, keyed by its wire index. */
type OpenBlock =
  | { kind: 'text' | 'ignored' }
  /** Its text and signature are kept: the next turn must send the block back unchanged. */
  | { kind: 'thinking'; pieces: string[]; signature: string }
  | { kind: 'tool'; index: number; id: string; name: string; pieces: string[]; initialInput: unknown };

const EVENT_TYPES = [
  'message_start',
  'content_block_start',
  'content_block_delta',
  'content_block_stop',
  'message_delta',
  'message_stop',
  'ping',
  'error',
] as const;
type EventType = (typeof EVENT_TYPES)[number];

function isEventType(value: string): value is EventType {
  return (EVENT_TYPES as readonly string[]).includes(value);
}

type MappedReason = Extract<CodecPart, { type: 'finish' }>['reason'];

/** Anthropic `stop_reason` onto the contract's finish reasons (docs/wire.md §2.6 and §7.5). */
export function mapAnthropicStopReason(reason: string): MappedReason {
  switch (reason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      // end_turn, stop_sequence, pause_turn (a server-tool loop paused; the answer so far is
      // whole) and any reason added later: the model stopped on its own terms.
      return 'stop';
  }
}

function nonEmpty(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

function count(value: number | null | undefined): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function malformed(message: string): CodecPart {
  return { type: 'error', code: 'upstream_error', message: `Anthropic ${message}`, retryable: true };
}

export function createAnthropicCodec(): StreamCodec {
  const blocks = new Map<number, OpenBlock>();
  let toolOrder = 0;
  let metadataSent = false;
  let finished = false;
  // Input is reported in three cumulative counters; keep the latest of each so the total stays
  // right when a later event repeats only some of them.
  const input = { fresh: 0, cacheWrite: 0, cacheRead: 0, known: false };

  const usagePart = (usage: WireUsage, withOutput: boolean): CodecPart | undefined => {
    const counts: Partial<UsageCounts> = {};
    const fresh = count(usage.input_tokens);
    if (fresh !== undefined) {
      input.fresh = fresh;
      input.known = true;
    }
    input.cacheWrite = count(usage.cache_creation_input_tokens) ?? input.cacheWrite;
    input.cacheRead = count(usage.cache_read_input_tokens) ?? input.cacheRead;
    // Cached tokens are billed input too: the total matches what OpenAI calls prompt_tokens.
    if (input.known) counts.inputTokens = input.fresh + input.cacheWrite + input.cacheRead;
    const output = count(usage.output_tokens);
    if (withOutput && output !== undefined) counts.outputTokens = output;
    const thinking = count(usage.output_tokens_details?.thinking_tokens);
    if (thinking !== undefined) counts.thinkingTokens = thinking;
    return Object.keys(counts).length > 0 ? { type: 'usage', usage: counts } : undefined;
  };

  const completeTool = (block: Extract<OpenBlock, { kind: 'tool' }>, parts: CodecPart[]): void => {
    let text = block.pieces.join('');
    if (text.trim().length === 0) {
      // No fragments at all: the call takes no arguments (or the start event carried them whole).
      const initial = block.initialInput;
      const filled = typeof initial === 'object' && initial !== null && Object.keys(initial).length > 0;
      text = filled ? JSON.stringify(initial) : '{}';
    }
    parts.push({ type: 'tool_call', index: block.index, id: block.id, name: block.name, arguments: text });
  };

  const onBlockStart = (event: StreamEvent, parts: CodecPart[]): void => {
    const block = event.content_block;
    if (typeof event.index !== 'number' || typeof block !== 'object' || block === null) {
      parts.push(malformed('sent a content_block_start without an index or block'));
      return;
    }
    switch (block.type) {
      case 'text':
        blocks.set(event.index, { kind: 'text' });
        if (nonEmpty(block.text)) parts.push({ type: 'text', text: block.text });
        return;
      case 'thinking': {
        const thinking = nonEmpty(block.thinking) ? block.thinking : '';
        const signature = nonEmpty(block.signature) ? block.signature : '';
        blocks.set(event.index, { kind: 'thinking', pieces: thinking ? [thinking] : [], signature });
        if (thinking) parts.push({ type: 'thinking', text: thinking });
        return;
      }
      case 'redacted_thinking':
        // Encrypted reasoning: acknowledged, never decoded; it has no deltas. Its `data` goes
        // back in the next turn as it came.
        blocks.set(event.index, { kind: 'ignored' });
        parts.push({ type: 'redacted_thinking' });
        if (nonEmpty(block.data)) {
          parts.push({ type: 'reasoning_state', item: { type: 'redacted_thinking', data: block.data } });
        }
        return;
      case 'tool_use': {
        const index = toolOrder++;
        const id = nonEmpty(block.id) ? block.id : `toolu_${index}`;
        const name = typeof block.name === 'string' ? block.name : '';
        blocks.set(event.index, { kind: 'tool', index, id, name, pieces: [], initialInput: block.input });
        parts.push({ type: 'tool_call_start', index, id, name });
        return;
      }
      default:
        // server_tool_use, web_search_tool_result and other server-side blocks: Anthropic runs
        // those tools itself, so the client has nothing to execute; their deltas are dropped.
        blocks.set(event.index, { kind: 'ignored' });
    }
  };

  const onBlockDelta = (event: StreamEvent, parts: CodecPart[]): void => {
    const delta = event.delta;
    const block = typeof event.index === 'number' ? blocks.get(event.index) : undefined;
    // A delta only counts for a block of its own kind; one whose block start never came is still
    // taken (text is worth more than strictness), but never one aimed at another kind of block.
    const fits = (kind: OpenBlock['kind']): boolean => block === undefined || block.kind === kind;
    switch (delta?.type) {
      case 'text_delta':
        if (fits('text') && nonEmpty(delta.text)) parts.push({ type: 'text', text: delta.text });
        return;
      case 'thinking_delta':
        if (fits('thinking') && nonEmpty(delta.thinking)) {
          if (block?.kind === 'thinking') block.pieces.push(delta.thinking);
          parts.push({ type: 'thinking', text: delta.thinking });
        }
        return;
      case 'signature_delta':
        // Anthropic's proof that the thinking text is its own; a block sent back without it (or
        // with its text changed) is refused, so it is kept with the text (docs/wire.md §2.4).
        if (block?.kind === 'thinking' && nonEmpty(delta.signature)) block.signature = delta.signature;
        return;
      case 'input_json_delta':
        if (block?.kind === 'tool' && nonEmpty(delta.partial_json)) block.pieces.push(delta.partial_json);
        return;
      default:
        // citations_delta (the cited text is already in the answer) and delta types added later.
        return;
    }
  };

  /** A signed thinking block, as the next turn must send it back; an unsigned one is useless there. */
  const completeThinking = (block: Extract<OpenBlock, { kind: 'thinking' }>, parts: CodecPart[]): void => {
    if (block.signature.length === 0) return;
    parts.push({
      type: 'reasoning_state',
      item: { type: 'thinking', thinking: block.pieces.join(''), signature: block.signature },
    });
  };

  const onBlockStop = (event: StreamEvent, parts: CodecPart[]): void => {
    if (typeof event.index !== 'number') return;
    const block = blocks.get(event.index);
    blocks.delete(event.index);
    if (block?.kind === 'tool') completeTool(block, parts);
    if (block?.kind === 'thinking') completeThinking(block, parts);
  };

  const finish = (raw: string, parts: CodecPart[]): void => {
    finished = true;
    // A block the upstream never closed still ends here, before the finish part.
    for (const block of blocks.values()) {
      if (block.kind === 'tool') completeTool(block, parts);
      if (block.kind === 'thinking') completeThinking(block, parts);
    }
    blocks.clear();
    parts.push({ type: 'finish', reason: mapAnthropicStopReason(raw), rawReason: raw });
  };

  const onEvent = (event: StreamEvent, type: EventType, parts: CodecPart[]): void => {
    switch (type) {
      case 'message_start': {
        const message = event.message ?? {};
        const usage = message.usage ? usagePart(message.usage, false) : undefined;
        if (!metadataSent) {
          metadataSent = true;
          parts.push({
            type: 'metadata',
            upstreamId: nonEmpty(message.id) ? message.id : null,
            upstreamModel: nonEmpty(message.model) ? message.model : null,
            ...(input.known ? { inputTokens: input.fresh + input.cacheWrite + input.cacheRead } : {}),
          });
        }
        // message_start's output_tokens is a placeholder (1 or so), not a count of the answer:
        // left out so that a stream cut short is estimated rather than reported as one token.
        if (usage) parts.push(usage);
        return;
      }
      case 'content_block_start':
        onBlockStart(event, parts);
        return;
      case 'content_block_delta':
        onBlockDelta(event, parts);
        return;
      case 'content_block_stop':
        onBlockStop(event, parts);
        return;
      case 'message_delta': {
        const usage = event.usage ? usagePart(event.usage, true) : undefined;
        if (usage) parts.push(usage);
        // The answer is whole once the stop reason is known; finishing here keeps a complete
        // answer complete even if the connection drops before message_stop.
        const reason = event.delta?.stop_reason;
        if (typeof reason === 'string' && reason.length > 0 && !finished) finish(reason, parts);
        return;
      }
      case 'message_stop':
        // The message ended without a stop reason in any message_delta (the docs' older
        // examples): it still ended, so it finishes as a plain stop.
        if (!finished) finish('message_stop', parts);
        return;
      case 'ping':
        return;
      case 'error': {
        const error = classifyAnthropicError(event.error ?? event);
        parts.push({
          type: 'error',
          code: error.code,
          message: `Anthropic: ${error.message}`,
          retryable: error.retryable,
        });
        return;
      }
      default: {
        const exhaustive: never = type;
        throw new Error(`unhandled Anthropic event ${String(exhaustive)}`);
      }
    }
  };

  return createObjectCodec({
    displayName: 'Anthropic',
    unit: 'event',
    onObject(data, eventName, parts) {
      const event = data as StreamEvent;
      // `data.type` always equals the SSE event name (docs/wire.md §2.3); either will do.
      const type = typeof event.type === 'string' ? event.type : (eventName ?? '');
      // Anthropic may add event types; unknown ones are skipped, as its docs ask.
      if (isEventType(type)) onEvent(event, type, parts);
    },
  });
}
