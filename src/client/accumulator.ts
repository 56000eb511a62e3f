import type {
  DoneData,
  ErrorData,
  FallbackData,
  FinishReason,
  LiveStats,
  ProviderModel,
  StreamFrame,
  ToolCallState,
  Usage,
} from './types.js';

/** A rough token count for speed shown while streaming, before the gateway's real count arrives. */
const CHARS_PER_TOKEN = 4;

/**
 * Folds frames into the live result of one stream: text, reasoning, tool calls, the outcome
 * and timings. Text pieces are collected in arrays and joined on demand, because repeated
 * string concatenation is quadratic over a long answer.
 */
export class Accumulator {
  provider: string | null = null;
  model: string | null = null;
  finishReason: FinishReason | null = null;
  usage: Usage | null = null;
  error: ErrorData | null = null;
  done: DoneData | null = null;
  reconnects = 0;
  /** Who answered (differs from `provider`/`model` after a fallback). */
  servedBy: ProviderModel | null = null;
  /** The `done` frame's `reasoning_state`, to send back on this turn's assistant message. */
  reasoningState: unknown = null;
  /** The `fallback` frames, in order. */
  readonly fallbacks: FallbackData[] = [];
  /** How many times a dropped answer was continued (`recovered` frames). */
  recoveries = 0;
  readonly toolCalls: ToolCallState[] = [];
  private readonly textPieces: string[] = [];
  private readonly thinkingPieces: string[] = [];
  private outputChars = 0;
  private firstTokenAt: number | undefined;
  private endedAt: number | undefined;

  /** `startedAt` is the `performance.now()` of the call: time to first token counts from there. */
  constructor(private readonly startedAt: number) {}

  get text(): string {
    return this.textPieces.join('');
  }

  get thinking(): string {
    return this.thinkingPieces.join('');
  }

  apply(frame: StreamFrame): void {
    this.provider ??= frame.data.provider;
    this.model ??= frame.data.model;
    switch (frame.event) {
      case 'thinking':
        this.content(frame.data.delta_text);
        this.thinkingPieces.push(frame.data.delta_text);
        break;
      case 'chunk':
        this.content(frame.data.delta_text);
        this.textPieces.push(frame.data.delta_text);
        break;
      case 'tool_call_start':
        this.content('');
        this.upsertToolCall({ ...pick(frame.data), arguments: null });
        break;
      case 'tool_call':
        this.content(frame.data.arguments);
        this.upsertToolCall({ ...pick(frame.data), arguments: frame.data.arguments });
        break;
      case 'error':
        this.error = frame.data;
        break;
      case 'done':
        this.done = frame.data;
        this.finishReason = frame.data.finish_reason;
        this.usage = frame.data.usage;
        this.servedBy = frame.data.served_by ?? this.servedBy;
        this.reasoningState = frame.data.reasoning_state ?? null;
        this.end();
        break;
      case 'metadata':
        this.servedBy = frame.data.served_by ?? this.servedBy;
        break;
      case 'fallback':
        this.fallbacks.push(frame.data);
        break;
      case 'recovered':
        this.recoveries++;
        break;
      case 'start':
      case 'redacted_thinking':
      case 'thinking_done':
      case 'cancelled':
        break;
      default: {
        const exhaustive: never = frame;
        throw new Error(`unhandled frame ${JSON.stringify(exhaustive)}`);
      }
    }
  }

  /** The stream is over (done, abort or failure): elapsed time stops here. */
  end(): void {
    this.endedAt ??= now();
  }

  get stats(): LiveStats {
    const at = this.endedAt ?? now();
    const final = this.done?.stats ?? null;
    const outputTokens = this.usage?.output_tokens ?? Math.ceil(this.outputChars / CHARS_PER_TOKEN);
    const streamingMs = this.firstTokenAt === undefined ? 0 : at - this.firstTokenAt;
    const estimate = streamingMs > 0 ? (outputTokens * 1000) / streamingMs : null;
    return {
      ttftMs: this.firstTokenAt === undefined ? null : this.firstTokenAt - this.startedAt,
      elapsedMs: at - this.startedAt,
      outputTokens,
      tokensPerSecond: final?.output_tokens_per_second ?? estimate,
      reconnects: this.reconnects,
      final,
    };
  }

  private content(text: string): void {
    this.firstTokenAt ??= now();
    this.outputChars += text.length;
  }

  private upsertToolCall(call: ToolCallState): void {
    const known = this.toolCalls.find((entry) => entry.index === call.index);
    if (known === undefined) this.toolCalls.push(call);
    else Object.assign(known, call);
  }
}

function pick(data: { index: number; id: string; name: string }): Omit<ToolCallState, 'arguments'> {
  return { index: data.index, id: data.id, name: data.name };
}

function now(): number {
  return performance.now();
}
