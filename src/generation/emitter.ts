import type { StreamFailure } from '../core/errors.js';
import type { Envelope, FinishReason, Frame, Usage } from '../protocol/frames.js';
import type { CodecPart, UsageCounts } from '../providers/types.js';

/**
 * Turns codec parts into contract frames for one generation: the envelope, `thinking_done`
 * before the first answer text that follows reasoning, reasoning suppressed when asked, and
 * the terminal frames (error, cancelled, done). One emitter spans every attempt of a generation.
 */
export class FrameEmitter {
  private readonly envelope: Envelope;
  /** Any content frame (reasoning, text, tool call) went out: no more retries from here on. */
  contentSent = false;
  private answerSent = false;
  private thinkingOpen = false;
  private thinkingDoneSent = false;
  private toolCallCount = 0;
  firstContentAt: number | undefined;
  finish: { reason: Exclude<FinishReason, 'error' | 'cancelled'>; raw: string } | undefined;
  readonly usage: Partial<UsageCounts> = {};
  /** Every piece of output (reasoning, answer, tool calls), for a token count when the provider gives none. */
  private readonly outputPieces: string[] = [];

  constructor(
    envelope: Envelope,
    private readonly includeThinking: boolean,
    private readonly clock: () => number,
  ) {
    this.envelope = { provider: envelope.provider, model: envelope.model };
  }

  /** The output so far as one text: what a tokenizer counts when the provider reports no usage. */
  get outputText(): string {
    return this.outputPieces.join('');
  }

  /** Frames for non-error parts. Error parts are the run's business (retry or terminate). */
  frames(parts: readonly CodecPart[], out: Frame[]): void {
    const { provider, model } = this.envelope;
    for (const part of parts) {
      switch (part.type) {
        case 'metadata': {
          const data: Frame & { event: 'metadata' } = {
            event: 'metadata',
            data: { provider, model, upstream_id: part.upstreamId, upstream_model: part.upstreamModel },
          };
          if (part.inputTokens !== undefined) data.data.input_tokens = part.inputTokens;
          out.push(data);
          break;
        }
        case 'thinking':
          this.markContent(true);
          this.thinkingOpen = true;
          this.outputPieces.push(part.text);
          if (this.includeThinking)
            out.push({ event: 'thinking', data: { provider, model, delta_text: part.text } });
          break;
        case 'redacted_thinking':
          this.markContent();
          this.thinkingOpen = true;
          if (this.includeThinking) out.push({ event: 'redacted_thinking', data: { provider, model } });
          break;
        case 'text':
          this.markContent(true);
          this.answerSent = true;
          this.closeThinking(out);
          this.outputPieces.push(part.text);
          out.push({
            event: 'chunk',
            data: { provider, model, delta_text: part.text, finish_reason: null, usage: null },
          });
          break;
        case 'tool_call_start':
          this.markContent();
          this.answerSent = true;
          this.closeThinking(out);
          out.push({
            event: 'tool_call_start',
            data: { provider, model, index: part.index, id: part.id, name: part.name },
          });
          break;
        case 'tool_call':
          this.markContent();
          this.toolCallCount++;
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
          break;
        case 'finish':
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

  errorFrame(failure: StreamFailure): Frame {
    const data = {
      ...this.envelope,
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

  doneFrame(finishReason: FinishReason, usage: Usage, attempts: number, startedAt: number): Frame {
    const now = this.clock();
    const ttft = this.firstContentAt === undefined ? null : Math.round(this.firstContentAt - startedAt);
    const streamingSeconds = this.firstContentAt === undefined ? 0 : (now - this.firstContentAt) / 1000;
    const speed =
      streamingSeconds > 0 && usage.output_tokens > 0
        ? Math.round((usage.output_tokens / streamingSeconds) * 10) / 10
        : null;
    const stats = {
      ttft_ms: ttft,
      duration_ms: Math.round(now - startedAt),
      output_tokens_per_second: speed,
      attempts,
    };
    return { event: 'done', data: { ...this.envelope, finish_reason: finishReason, usage, stats } };
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
