import type { StreamFailure } from '../core/errors.js';
import type { Envelope, FinishReason, Frame, ProviderModel, Stats, Usage } from '../protocol/frames.js';
import type { CodecPart, UsageCounts } from '../providers/types.js';
import type { OverlapTrimmer } from './overlap.js';
import { TokenMeter } from './token-meter.js';

/** How an attempt relates to the answer so far. */
export interface AttemptStart {
  /** Who is asked this time: metadata and done name it as `served_by`. */
  servedBy: ProviderModel;
  /**
   * The attempt continues an answer whose upstream dropped: its text goes through the trimmer
   * (nothing shown twice), its reasoning is not shown (the answer was already past it), and
   * the earlier attempts' output stays counted.
   */
  continuation?: OverlapTrimmer;
}

/**
 * Turns codec parts into contract frames for one generation: the envelope, `thinking_done`
 * before the first answer text that follows reasoning, reasoning suppressed when asked, the
 * token budget, and the terminal frames (error, cancelled, done). One emitter spans every
 * attempt of a generation.
 */
export class FrameEmitter {
  private readonly envelope: Envelope;
  /** Any content frame (reasoning, text, tool call) went out: no more retries from here on. */
  contentSent = false;
  private answerSent = false;
  /** Answer text went out (a continuation can carry it on). */
  textSent = false;
  /** A tool call started: the answer is a tool-calling turn, which is never continued. */
  toolCallStarted = false;
  private thinkingOpen = false;
  private thinkingDoneSent = false;
  private toolCallCount = 0;
  firstContentAt: number | undefined;
  finish: { reason: Exclude<FinishReason, 'error' | 'cancelled'>; raw: string } | undefined;
  /** The provider's counts for the current attempt. */
  usage: Partial<UsageCounts> = {};
  /** Every piece of this attempt's output (reasoning, answer, tool calls), for a token count when the provider gives none. */
  private outputPieces: string[] = [];
  /** The answer text sent so far, over every attempt: what a continuation carries on from. */
  private readonly answerPieces: string[] = [];
  /** Reasoning the provider wants back next turn, in the order it came (codec `reasoning_state` parts). */
  private reasoningItems: Record<string, unknown>[] = [];
  private servedBy: ProviderModel;
  private trimmer: OverlapTrimmer | undefined;
  /** Output tokens at which the stream is cut; undefined for none. */
  budget: number | undefined;
  /** The budget was reached: no frame follows the one that reached it. */
  budgetHit = false;

  constructor(
    envelope: Envelope,
    private readonly includeThinking: boolean,
    private readonly clock: () => number,
    readonly meter: TokenMeter = new TokenMeter(),
  ) {
    this.envelope = { provider: envelope.provider, model: envelope.model };
    this.servedBy = { ...this.envelope };
  }

  /** The output of the current attempt as one text: what a tokenizer counts when the provider reports no usage. */
  get outputText(): string {
    return this.outputPieces.join('');
  }

  /** Every answer text sent so far, over all attempts. */
  get answerText(): string {
    return this.answerPieces.join('');
  }

  /** Who is answering now (the attempt under way, or the last one). */
  get currentServer(): ProviderModel {
    return this.servedBy;
  }

  /** Resets what belongs to one attempt; a continuation keeps the answer's reasoning and count. */
  beginAttempt(start: AttemptStart): void {
    this.servedBy = start.servedBy;
    this.trimmer = start.continuation;
    this.usage = {};
    this.outputPieces = [];
    this.meter.nextAttempt(start.continuation !== undefined);
    if (start.continuation === undefined) this.reasoningItems = [];
  }

  /**
   * Frames for non-error parts. Error parts are the run's business (retry or terminate). Stops
   * at the part that reaches the token budget: parts after it are dropped.
   */
  frames(parts: readonly CodecPart[], out: Frame[]): void {
    for (const part of parts) {
      if (this.budgetHit) return;
      this.part(part, out);
      if (this.budget !== undefined && this.meter.tokens >= this.budget) {
        this.budgetHit = true;
        this.flushPending(out);
      }
    }
  }

  /** The end of an attempt: text a continuation held back goes out. */
  flushPending(out: Frame[]): void {
    const held = this.trimmer?.flush() ?? '';
    if (held.length > 0) this.pushText(held, out);
  }

  private part(part: CodecPart, out: Frame[]): void {
    const { provider, model } = this.envelope;
    switch (part.type) {
      case 'metadata': {
        const frame: Frame & { event: 'metadata' } = {
          event: 'metadata',
          data: {
            provider,
            model,
            upstream_id: part.upstreamId,
            upstream_model: part.upstreamModel,
            served_by: this.servedBy,
          },
        };
        if (part.inputTokens !== undefined) frame.data.input_tokens = part.inputTokens;
        out.push(frame);
        break;
      }
      case 'thinking':
        this.markContent(true);
        this.meter.add(part.text);
        this.outputPieces.push(part.text);
        // A continuation is past the reasoning: whatever it reasons again is not shown.
        if (this.trimmer !== undefined) break;
        this.thinkingOpen = true;
        if (this.includeThinking)
          out.push({ event: 'thinking', data: { provider, model, delta_text: part.text } });
        break;
      case 'redacted_thinking':
        this.markContent();
        if (this.trimmer !== undefined) break;
        this.thinkingOpen = true;
        if (this.includeThinking) out.push({ event: 'redacted_thinking', data: { provider, model } });
        break;
      case 'text': {
        this.markContent(true);
        this.meter.add(part.text);
        this.outputPieces.push(part.text);
        const text = this.trimmer === undefined ? part.text : this.trimmer.push(part.text);
        if (text.length > 0) this.pushText(text, out);
        break;
      }
      case 'tool_call_start':
        this.flushPending(out);
        this.markContent();
        this.answerSent = true;
        this.toolCallStarted = true;
        this.closeThinking(out);
        out.push({
          event: 'tool_call_start',
          data: { provider, model, index: part.index, id: part.id, name: part.name },
        });
        break;
      case 'tool_call':
        this.markContent();
        this.toolCallCount++;
        this.meter.add(part.name);
        this.meter.add(part.arguments);
        this.outputPieces.push(part.name, part.arguments);
        out.push({
          event: 'tool_call',
          data: {
            provider,
            model,
            index: part.index,
            id: part.id,
            name: part.name,
            arguments: part.arguments,
          },
        });
        break;
      case 'usage':
        Object.assign(this.usage, part.usage);
        if (part.usage.outputTokens !== undefined) this.meter.report(part.usage.outputTokens);
        break;
      case 'reasoning_state':
        this.reasoningItems.push(part.item);
        break;
      case 'finish':
        this.flushPending(out);
        this.finish ??= { reason: part.reason, raw: part.rawReason };
        break;
      case 'error':
        break;
      default: {
        const exhaustive: never = part;
        throw new Error(`unhandled codec part ${JSON.stringify(exhaustive)}`);
      }
    }
  }

  private pushText(text: string, out: Frame[]): void {
    const { provider, model } = this.envelope;
    this.answerSent = true;
    this.textSent = true;
    this.closeThinking(out);
    this.answerPieces.push(text);
    out.push({
      event: 'chunk',
      data: { provider, model, delta_text: text, finish_reason: null, usage: null },
    });
  }

  /** The stream's final finish reason when it ended normally. */
  finalFinishReason(): Exclude<FinishReason, 'error' | 'cancelled'> | undefined {
    const reason = this.finish?.reason;
    if (reason === 'stop' && this.toolCallCount > 0) return 'tool_calls';
    return reason;
  }

  /**
   * The contract's `partial`: part of the answer (text, or a tool call, which is the answer of a
   * tool-calling turn) already went out. Reasoning alone does not make an answer partial.
   */
  get partial(): boolean {
    return this.answerSent;
  }

  /** What `done.reasoning_state` carries: the items tagged with who produced them, or null. */
  reasoningState(): unknown {
    if (this.reasoningItems.length === 0) return null;
    return { provider: this.servedBy.provider, model: this.servedBy.model, items: this.reasoningItems };
  }

  errorFrame(failure: StreamFailure): Frame {
    const data = {
      provider: this.envelope.provider,
      model: this.envelope.model,
      code: failure.code,
      message: failure.message,
      retryable: failure.retryable,
      partial: this.partial,
    };
    return { event: 'error', data };
  }

  cancelledFrame(): Frame {
    return { event: 'cancelled', data: { ...this.envelope } };
  }

  fallbackFrame(from: ProviderModel, to: ProviderModel, code: StreamFailure['code']): Frame {
    return {
      event: 'fallback',
      data: { provider: this.envelope.provider, model: this.envelope.model, from, to, code },
    };
  }

  recoveredFrame(attempt: number): Frame {
    let chars = 0;
    for (const piece of this.answerPieces) for (const _ of piece) chars++;
    return {
      event: 'recovered',
      data: { provider: this.envelope.provider, model: this.envelope.model, attempt, after_chars: chars },
    };
  }

  doneFrame(finishReason: FinishReason, usage: Usage, attempts: number, startedAt: number): Frame {
    const now = this.clock();
    const ttft = this.firstContentAt === undefined ? null : Math.round(this.firstContentAt - startedAt);
    const streamingSeconds = this.firstContentAt === undefined ? 0 : (now - this.firstContentAt) / 1000;
    const speed =
      streamingSeconds > 0 && usage.output_tokens > 0
        ? Math.round((usage.output_tokens / streamingSeconds) * 10) / 10
        : null;
    const stats: Stats = {
      ttft_ms: ttft,
      duration_ms: Math.round(now - startedAt),
      output_tokens_per_second: speed,
      attempts,
    };
    if (this.budget !== undefined) stats.budget_hit = this.budgetHit;
    return {
      event: 'done',
      data: {
        provider: this.envelope.provider,
        model: this.envelope.model,
        finish_reason: finishReason,
        usage,
        stats,
        served_by: this.servedBy,
        reasoning_state: this.reasoningState(),
      },
    };
  }

  /** Any content ends the retry window; only text (answer or reasoning) starts the ttft clock. */
  private markContent(isText = false): void {
    this.contentSent = true;
    if (isText && this.firstContentAt === undefined) this.firstContentAt = this.clock();
  }

  /** `thinking_done` goes out once, before the first answer that follows reasoning. */
  private closeThinking(out: Frame[]): void {
    if (!this.thinkingOpen) return;
    this.thinkingOpen = false;
    if (this.thinkingDoneSent) return;
    this.thinkingDoneSent = true;
    if (this.includeThinking) out.push({ event: 'thinking_done', data: { ...this.envelope } });
  }
}
