import { performance } from 'node:perf_hooks';
import { Abort, type AbortWatch } from '../core/abort.js';
import { redactSecrets, type StreamFailure, UpstreamError } from '../core/errors.js';
import { Lane } from '../core/turns.js';
import type { Frame, StreamErrorCode, Usage } from '../protocol/frames.js';
import type { ChatMessage, ChatRequest } from '../protocol/request.js';
import { continuationRequest } from '../providers/continuation.js';
import type { ProviderDefinition, ProviderSettings, UsageCounts } from '../providers/types.js';
import { backoffDelay } from '../upstream/retry.js';
import {
  readBodyText,
  type Transport,
  toUpstreamError,
  type UpstreamRequest,
} from '../upstream/transport.js';
import { FrameEmitter } from './emitter.js';
import { type Generation, GenerationAbort } from './generation.js';
import { OverlapTrimmer } from './overlap.js';
import { createFramePipeline } from './pipeline.js';
import { finalizeUsage, loadTokenizer, reportedUsage } from './usage.js';

/** One provider and model the generation may be served by, with how to reach it. */
export interface RunTarget {
  provider: ProviderDefinition;
  model: string;
  providerSettings: ProviderSettings;
  idleTimeoutMs: number;
  retryBaseMs: number;
}

export interface RunPlan extends RunTarget {
  generation: Generation;
  request: ChatRequest;
  transport: Transport;
  maxRetries: number;
  /** `performance.now()` when the request arrived: the zero of ttft and duration. */
  receivedAt: number;
  /** The request's `fallbacks`, resolved: tried in order when it fails before any content. */
  fallbacks?: readonly RunTarget[];
  /** The request's id, for `start.request_id`. */
  requestId?: string | undefined;
  /** Sent with every upstream attempt besides the provider's own (`X-Request-Id`, `traceparent`). */
  upstreamHeaders?: Readonly<Record<string, string>> | undefined;
}

type AttemptOutcome =
  | { kind: 'finished' }
  | { kind: 'failed'; failure: StreamFailure; retryAfterMs?: number }
  | { kind: 'aborted'; abort: GenerationAbort }
  /** The token budget was reached: the upstream was cut on purpose. */
  | { kind: 'budget' };

class IdleTimeout extends Error {
  constructor(milliseconds: number) {
    super(`no data from the upstream for ${milliseconds} ms`);
    this.name = 'IdleTimeout';
  }
}

class BudgetReached extends Error {
  constructor() {
    super('the token budget was reached');
    this.name = 'BudgetReached';
  }
}

/**
 * Failures after which the next fallback is tried at once rather than after the provider's own
 * retries (CONTRACT.md section 8): the provider is down, refusing or saturated right now.
 */
const FALL_BACK_AT_ONCE: ReadonlySet<StreamErrorCode> = new Set([
  'provider_auth',
  'rate_limited',
  'overloaded',
  'upstream_error',
  'timeout',
  'upstream_disconnected',
]);

/** An upstream that went away mid-answer; with `recover`, the answer is continued. */
const DROPS: ReadonlySet<StreamErrorCode> = new Set(['upstream_disconnected', 'timeout', 'incomplete']);

/** Continuations of one answer at most (CONTRACT.md section 8). */
const MAX_RECOVERIES = 2;

/** A fault of the gateway itself: never retried, never described beyond what a client may read. */
function internalFailure(message: string): AttemptOutcome {
  return { kind: 'failed', failure: { code: 'internal', message, retryable: false } };
}

/** The outcome `decide` gives, or an internal failure when it throws. */
function guarded(decide: () => AttemptOutcome): AttemptOutcome {
  try {
    return decide();
  } catch {
    return internalFailure('the upstream answer could not be read');
  }
}

function failureOf(error: UpstreamError): AttemptOutcome {
  return {
    kind: 'failed',
    failure: { code: error.code, message: error.message, retryable: error.retryable },
    ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}),
  };
}

/** What one attempt that carried the answer produced, for usage summed over attempts. */
interface Segment {
  usage: Partial<UsageCounts>;
  /** The attempt's output as one text: joined only when the provider reported no output count. */
  outputText: () => string;
  messages: readonly ChatMessage[];
}

/** Where the run stands, kept across attempts (and read by the fault path). */
interface Progress {
  attempts: number;
  target: RunTarget;
  /** The request of the attempt under way (a continuation carries the partial answer). */
  request: ChatRequest;
  /** Attempts before this one whose output is part of the answer (continued answers). */
  segments: Segment[];
}

/**
 * Drives one generation: upstream request -> frame pipeline -> log. Owns the retries and
 * fallbacks (before the first content frame only), continuing a dropped answer (`recover`), the
 * token budget, the idle timeout, the abort signal that cancel and the grace period use, and
 * the terminal frames: whatever happens, the log ends with exactly one `done`.
 */
export async function runGeneration(plan: RunPlan): Promise<void> {
  const { generation } = plan;
  const emitter = new FrameEmitter(
    generation,
    plan.request.include_thinking,
    () => performance.now(),
    generation.outputTokens,
  );
  const progress: Progress = { attempts: 0, target: plan, request: plan.request, segments: [] };
  try {
    await drive(plan, emitter, progress);
  } catch {
    // Whatever threw, the generation still ends, exactly once, with `error` and `done`.
    endAfterFault(plan, emitter, progress.attempts);
  }
}

async function drive(plan: RunPlan, emitter: FrameEmitter, progress: Progress): Promise<void> {
  const { generation } = plan;
  generation.log.append([
    {
      event: 'start',
      data: {
        provider: generation.provider,
        model: generation.model,
        generation_id: generation.id,
        created: generation.createdAt,
        emulated: generation.emulated,
        ...(plan.requestId !== undefined ? { request_id: plan.requestId } : {}),
      },
    },
  ]);
  if (plan.request.token_budget !== undefined) {
    emitter.budget = plan.request.token_budget;
    emitter.meter.live = true;
    // Loaded at start; a count per frame cannot wait for it. Without it, pieces are estimated.
    await loadTokenizer().catch(() => undefined);
  }

  const targets: readonly RunTarget[] = [plan, ...(plan.fallbacks ?? [])];
  let targetIndex = 0;
  let targetAttempts = 0;
  let recoveries = 0;
  let continuation: OverlapTrimmer | undefined;
  let outcome: AttemptOutcome;
  for (;;) {
    const target = progress.target;
    progress.attempts++;
    targetAttempts++;
    emitter.beginAttempt({
      servedBy: { provider: target.provider.id, model: target.model },
      ...(continuation !== undefined ? { continuation } : {}),
    });
    outcome = await attempt(plan, target, progress.request, emitter);
    if (outcome.kind !== 'failed') break;
    const { failure } = outcome;

    if (canRecover(plan, emitter, failure, recoveries)) {
      recoveries++;
      const outputText = emitter.outputText;
      progress.segments.push({
        usage: emitter.usage,
        outputText: () => outputText,
        messages: progress.request.messages,
      });
      const partial = emitter.answerText;
      progress.request = continuationRequest(plan.request, partial, target.provider.continuation);
      continuation = new OverlapTrimmer(partial, target.provider.continuation);
      generation.log.append([emitter.recoveredFrame(recoveries)]);
      continue;
    }
    if (emitter.contentSent) break;

    const next = targets[targetIndex + 1];
    const retriesLeft = failure.retryable && targetAttempts <= plan.maxRetries;
    const delay = retriesLeft
      ? backoffDelay(targetAttempts, target.retryBaseMs, outcome.retryAfterMs)
      : undefined;
    if (next !== undefined && (FALL_BACK_AT_ONCE.has(failure.code) || delay === undefined)) {
      generation.log.append([
        emitter.fallbackFrame(
          { provider: target.provider.id, model: target.model },
          { provider: next.provider.id, model: next.model },
          failure.code,
        ),
      ]);
      targetIndex++;
      targetAttempts = 0;
      progress.target = next;
      continue;
    }
    if (delay === undefined) break;
    const aborted = await sleep(delay, generation.signal);
    if (aborted) {
      outcome = { kind: 'aborted', abort: abortOf(generation.signal) };
      break;
    }
  }
  await finish(plan, emitter, outcome, progress);
}

/**
 * `recover`: the upstream dropped after answer text went out, and the answer can go on: not a
 * tool-calling turn, not past the most continuations, not stopped from outside.
 */
function canRecover(
  plan: RunPlan,
  emitter: FrameEmitter,
  failure: StreamFailure,
  recoveries: number,
): boolean {
  return (
    plan.request.recover &&
    DROPS.has(failure.code) &&
    emitter.textSent &&
    !emitter.toolCallStarted &&
    recoveries < MAX_RECOVERIES &&
    !plan.generation.signal.aborted
  );
}

/** The last resort after a fault: terminal frames with what is known, no tokenizer, no await. */
function endAfterFault(plan: RunPlan, emitter: FrameEmitter, attempts: number): void {
  const { generation } = plan;
  if (!generation.running) return;
  try {
    if (!generation.log.ended) {
      generation.log.append([
        emitter.errorFrame({
          code: 'internal',
          message: 'the gateway failed on this generation',
          retryable: false,
        }),
        emitter.doneFrame('error', reportedUsage(emitter.usage), Math.max(1, attempts), plan.receivedAt),
      ]);
    }
  } finally {
    generation.markEnded();
  }
}

function abortOf(signal: AbortWatch): GenerationAbort {
  return signal.reason instanceof GenerationAbort ? signal.reason : new GenerationAbort('cancelled');
}

function sleep(milliseconds: number, signal: AbortWatch): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(false);
    }, milliseconds);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** One upstream attempt; resolves (never rejects) with how it ended. */
function attempt(
  plan: RunPlan,
  target: RunTarget,
  request: ChatRequest,
  emitter: FrameEmitter,
): Promise<AttemptOutcome> {
  const { generation } = plan;
  const { provider } = target;
  if (generation.signal.aborted)
    return Promise.resolve({ kind: 'aborted', abort: abortOf(generation.signal) });
  let upstreamRequest: UpstreamRequest;
  try {
    upstreamRequest = provider.buildRequest(request, target.model, target.providerSettings);
    if (plan.upstreamHeaders !== undefined) {
      upstreamRequest = {
        url: upstreamRequest.url,
        headers: Object.assign({}, plan.upstreamHeaders, upstreamRequest.headers),
        body: upstreamRequest.body,
      };
    }
  } catch {
    return Promise.resolve(internalFailure(`the request could not be prepared for ${provider.displayName}`));
  }
  const controller = new Abort();

  return new Promise<AttemptOutcome>((resolve) => {
    let settled = false;
    let body: { destroy(error?: Error): void } | undefined;
    const onGenerationAbort = (): void => controller.abort(generation.signal.reason);
    generation.signal.addEventListener('abort', onGenerationAbort, { once: true });
    // One timer spans waiting for headers and every gap between chunks. A read only notes when it
    // came (`active`); the timer, when it fires, looks at how long the upstream has been quiet and
    // waits for the rest of the bound if it was not quiet that long. So a chunk costs a clock
    // read, not a re-arm of the timer (which moves it in the timer list, cold memory at scale).
    const idleMs = target.idleTimeoutMs;
    let activeAt = performance.now();
    const active = (): void => {
      activeAt = performance.now();
    };
    const checkIdle = (): void => {
      const quietMs = performance.now() - activeAt;
      if (quietMs >= idleMs) controller.abort(new IdleTimeout(idleMs));
      else idle = setTimeout(checkIdle, Math.ceil(idleMs - quietMs));
    };
    let idle = setTimeout(checkIdle, idleMs);

    const settle = (outcome: AttemptOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(idle);
      generation.signal.removeEventListener('abort', onGenerationAbort);
      body?.destroy();
      resolve(outcome);
    };

    /** Why the attempt stopped, when an error surfaced after an abort or a socket failure. */
    const classify = (error: unknown): AttemptOutcome => {
      const reason: unknown = controller.aborted ? controller.reason : undefined;
      if (reason instanceof GenerationAbort) return { kind: 'aborted', abort: reason };
      if (reason instanceof IdleTimeout) {
        // An upstream that finished its answer and then went quiet has still finished.
        if (emitter.finish !== undefined) return { kind: 'finished' };
        return failureOf(new UpstreamError('timeout', reason.message, { retryable: true }));
      }
      if (error instanceof UpstreamError) {
        // Decided by the socket error, not by the wording of the message.
        const refused = (error.cause as { code?: string } | undefined)?.code === 'ECONNREFUSED';
        if (refused && provider.describeConnectionFailure) {
          const message = provider.describeConnectionFailure();
          return failureOf(new UpstreamError('upstream_error', message, { retryable: true, cause: error }));
        }
        return failureOf(error);
      }
      const upstreamError = toUpstreamError(error, provider.displayName);
      if (emitter.contentSent || settled) {
        return failureOf(
          new UpstreamError('upstream_disconnected', upstreamError.message, { retryable: true }),
        );
      }
      return failureOf(upstreamError);
    };

    // In-process providers (the local model) answer the attempt themselves, in the same shape.
    const opened = provider.openUpstream
      ? provider.openUpstream(upstreamRequest, controller.signal)
      : plan.transport.open(upstreamRequest, controller, provider.displayName, {
          http1Only: provider.http1Only,
        });
    opened.then(
      (response) => {
        body = response.body;
        if (settled) {
          response.body.destroy();
          return;
        }
        active();
        if (response.status < 200 || response.status >= 300) {
          readBodyText(response.body).then(
            (text) =>
              settle(
                guarded(() => failureOf(provider.mapHttpError(response.status, text, response.headers))),
              ),
            (error: unknown) => settle(classify(error)),
          );
          return;
        }
        const pipeline = createFramePipeline(provider, emitter);

        /** Appends what one read produced; false when the attempt stopped (failure, budget, a full log). */
        const consume = (step: {
          frames: Frame[];
          failure: StreamFailure | undefined;
          budgetHit: boolean;
        }): boolean => {
          if (step.frames.length > 0) generation.log.append(step.frames);
          if (step.budgetHit) {
            // Cut the upstream now: every token past the budget is paid for and thrown away.
            controller.abort(new BudgetReached());
            settle({ kind: 'budget' });
            return false;
          }
          if (step.failure !== undefined) {
            settle({ kind: 'failed', failure: step.failure });
            return false;
          }
          if (generation.log.full) {
            settle({
              kind: 'failed',
              failure: {
                code: 'internal',
                message: 'the generation exceeded its stored-frame bound',
                retryable: false,
              },
            });
            return false;
          }
          return true;
        };

        // A codec that throws is a bug, but it must end this generation, not the process.
        const read = (chunk: Buffer): void => {
          // A read that waited past an abort appends nothing: the body's error settles the attempt,
          // once whatever the abort stopped (a local model's slot) has let go.
          if (settled || controller.aborted) return;
          try {
            consume(pipeline.push(chunk));
          } catch {
            settle(internalFailure(`the ${provider.displayName} stream could not be read`));
          }
        };
        const end = (): void => {
          if (settled) return;
          if (controller.aborted) {
            settle(classify(controller.reason));
            return;
          }
          try {
            if (!consume(pipeline.end())) return;
          } catch {
            settle(internalFailure(`the ${provider.displayName} stream could not be read`));
            return;
          }
          if (emitter.finish !== undefined) {
            settle({ kind: 'finished' });
          } else {
            settle({
              kind: 'failed',
              failure: {
                code: 'incomplete',
                message: `${provider.displayName} ended the stream without a finish reason`,
                retryable: true,
              },
            });
          }
        };
        // Reads before the first content are handled at once: the time to the first token is what
        // a reader waits on. Later reads wait for a slice of the turn (core/turns.ts), so a burst of
        // other streams' reads does not hold up new requests; the end and an error wait only behind
        // this stream's waiting reads. An end that waited past an abort settles the attempt as the
        // abort asks: no error follows a body that had ended.
        const lane = new Lane();
        response.body.on('data', (chunk: Buffer) => {
          if (settled) return;
          active();
          lane.run(read, chunk, chunk.length, !emitter.contentSent);
        });
        response.body.on('end', () => lane.run(end, undefined, 0, true));
        const fail = (error: Error): void => settle(classify(error));
        response.body.on('error', (error: Error) => lane.run(fail, error, 0, true));
      },
      (error: unknown) => settle(classify(error)),
    );
  });
}

/** Usage over every attempt that carried the answer: each counted where the provider did not. */
async function totalUsage(emitter: FrameEmitter, progress: Progress): Promise<Usage> {
  const segments: Segment[] = [
    ...progress.segments,
    { usage: emitter.usage, outputText: () => emitter.outputText, messages: progress.request.messages },
  ];
  const parts: Usage[] = [];
  for (const segment of segments) {
    try {
      parts.push(await finalizeUsage(segment.usage, segment.messages, segment.outputText));
    } catch {
      parts.push(reportedUsage(segment.usage));
    }
  }
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  const thinking = parts.some((usage) => usage.thinking_tokens !== null)
    ? parts.reduce((sum, usage) => sum + (usage.thinking_tokens ?? 0), 0)
    : null;
  const input = parts.reduce((sum, usage) => sum + usage.input_tokens, 0);
  const output = parts.reduce((sum, usage) => sum + usage.output_tokens, 0);
  return {
    input_tokens: input,
    output_tokens: output,
    thinking_tokens: thinking,
    total_tokens: input + output,
    estimated: parts.some((usage) => usage.estimated),
  };
}

async function finish(
  plan: RunPlan,
  emitter: FrameEmitter,
  outcome: AttemptOutcome,
  progress: Progress,
): Promise<void> {
  const { generation } = plan;
  const target = progress.target;
  const frames: Frame[] = [];
  emitter.flushPending(frames);
  let finishReason: Parameters<FrameEmitter['doneFrame']>[0];
  switch (outcome.kind) {
    case 'finished': {
      const reason = emitter.finalFinishReason() ?? 'stop';
      if (reason === 'content_filter') {
        frames.push(
          emitter.errorFrame({
            code: 'content_filter',
            message: `${target.provider.displayName} stopped the answer by content filter (${emitter.finish?.raw ?? 'content_filter'})`,
            retryable: false,
          }),
        );
      }
      finishReason = reason;
      break;
    }
    case 'budget':
      finishReason = 'length';
      break;
    case 'failed': {
      // Provider bodies echo keys back (OpenAI's 401 does, masked); never let one through.
      const keys = [plan, ...(plan.fallbacks ?? [])].map((entry) => entry.providerSettings.apiKey ?? '');
      frames.push(
        emitter.errorFrame({ ...outcome.failure, message: redactSecrets(outcome.failure.message, keys) }),
      );
      finishReason = outcome.failure.code === 'content_filter' ? 'content_filter' : 'error';
      break;
    }
    case 'aborted':
      if (outcome.abort.reason === 'shutdown') {
        frames.push(
          emitter.errorFrame({ code: 'internal', message: 'the gateway is shutting down', retryable: true }),
        );
        finishReason = 'error';
      } else {
        frames.push(emitter.cancelledFrame());
        finishReason = 'cancelled';
      }
      break;
    default: {
      const exhaustive: never = outcome;
      throw new Error(`unhandled outcome ${JSON.stringify(exhaustive)}`);
    }
  }
  const usage = await totalUsage(emitter, progress);
  frames.push(emitter.doneFrame(finishReason, usage, progress.attempts, plan.receivedAt));
  const settling = generation.settleBeforeDone(BEFORE_DONE_TIMEOUT_MS);
  if (settling !== undefined) await settling;
  generation.log.append(frames);
  generation.markEnded();
}

/** How long the work before `done` (a limit's slot given back through Redis) may hold it. */
const BEFORE_DONE_TIMEOUT_MS = 250;
