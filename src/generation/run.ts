import { performance } from 'node:perf_hooks';
import { redactSecrets, type StreamFailure, UpstreamError } from '../core/errors.js';
import type { Frame, Usage } from '../protocol/frames.js';
import type { ChatRequest } from '../protocol/request.js';
import type { ProviderDefinition, ProviderSettings } from '../providers/types.js';
import { backoffDelay } from '../upstream/retry.js';
import {
  readBodyText,
  type Transport,
  toUpstreamError,
  type UpstreamRequest,
} from '../upstream/transport.js';
import { FrameEmitter } from './emitter.js';
import { type Generation, GenerationAbort } from './generation.js';
import { createFramePipeline } from './pipeline.js';
import { finalizeUsage, reportedUsage } from './usage.js';

export interface RunPlan {
  generation: Generation;
  provider: ProviderDefinition;
  model: string;
  request: ChatRequest;
  providerSettings: ProviderSettings;
  transport: Transport;
  idleTimeoutMs: number;
  maxRetries: number;
  retryBaseMs: number;
  /** `performance.now()` when the request arrived: the zero of ttft and duration. */
  receivedAt: number;
  /** The request's id, for `start.request_id`. */
  requestId?: string | undefined;
  /** Sent with every upstream attempt besides the provider's own (`X-Request-Id`, `traceparent`). */
  upstreamHeaders?: Readonly<Record<string, string>> | undefined;
}

type AttemptOutcome =
  | { kind: 'finished' }
  | { kind: 'failed'; failure: StreamFailure; retryAfterMs?: number }
  | { kind: 'aborted'; abort: GenerationAbort };

class IdleTimeout extends Error {
  constructor(milliseconds: number) {
    super(`no data from the upstream for ${milliseconds} ms`);
    this.name = 'IdleTimeout';
  }
}

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

/**
 * Drives one generation: upstream request -> frame pipeline -> log. Owns the
 * retries (before the first content frame only), the idle timeout, the abort signal that
 * cancel and the grace period use, and the terminal frames: whatever happens, the log ends
 * with exactly one `done`.
 */
export async function runGeneration(plan: RunPlan): Promise<void> {
  const { generation } = plan;
  const emitter = new FrameEmitter(generation, plan.request.include_thinking, () => performance.now());
  const progress = { attempts: 0 };
  try {
    await drive(plan, emitter, progress);
  } catch {
    // Whatever threw, the generation still ends, exactly once, with `error` and `done`.
    endAfterFault(plan, emitter, progress.attempts);
  }
}

async function drive(plan: RunPlan, emitter: FrameEmitter, progress: { attempts: number }): Promise<void> {
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

  let outcome: AttemptOutcome;
  for (;;) {
    progress.attempts++;
    outcome = await attempt(plan, emitter);
    if (outcome.kind !== 'failed' || !outcome.failure.retryable || emitter.contentSent) break;
    if (progress.attempts > plan.maxRetries) break;
    const delay = backoffDelay(progress.attempts, plan.retryBaseMs, outcome.retryAfterMs);
    if (delay === undefined) break;
    const aborted = await sleep(delay, generation.signal);
    if (aborted) {
      outcome = { kind: 'aborted', abort: abortOf(generation.signal) };
      break;
    }
  }
  await finish(plan, emitter, outcome, progress.attempts);
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

function abortOf(signal: AbortSignal): GenerationAbort {
  return signal.reason instanceof GenerationAbort ? signal.reason : new GenerationAbort('cancelled');
}

function sleep(milliseconds: number, signal: AbortSignal): Promise<boolean> {
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
function attempt(plan: RunPlan, emitter: FrameEmitter): Promise<AttemptOutcome> {
  const { generation, provider } = plan;
  if (generation.signal.aborted)
    return Promise.resolve({ kind: 'aborted', abort: abortOf(generation.signal) });
  let upstreamRequest: UpstreamRequest;
  try {
    upstreamRequest = provider.buildRequest(plan.request, plan.model, plan.providerSettings);
    if (plan.upstreamHeaders !== undefined) {
      upstreamRequest = {
        ...upstreamRequest,
        headers: { ...plan.upstreamHeaders, ...upstreamRequest.headers },
      };
    }
  } catch {
    return Promise.resolve(internalFailure(`the request could not be prepared for ${provider.displayName}`));
  }
  const controller = new AbortController();

  return new Promise<AttemptOutcome>((resolve) => {
    let settled = false;
    let body: { destroy(error?: Error): void } | undefined;
    const onGenerationAbort = (): void => controller.abort(generation.signal.reason);
    generation.signal.addEventListener('abort', onGenerationAbort, { once: true });
    // One timer spans waiting for headers and every gap between chunks; `refresh()` re-arms it
    // without allocating, so resetting it on every chunk stays cheap.
    const idle = setTimeout(() => controller.abort(new IdleTimeout(plan.idleTimeoutMs)), plan.idleTimeoutMs);

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
      const reason: unknown = controller.signal.aborted ? controller.signal.reason : undefined;
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

    plan.transport.open(upstreamRequest, controller.signal, provider.displayName).then(
      (response) => {
        body = response.body;
        if (settled) {
          response.body.destroy();
          return;
        }
        idle.refresh();
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

        /** Appends what one read produced; false when the attempt stopped (failure or a full log). */
        const consume = (step: { frames: Frame[]; failure: StreamFailure | undefined }): boolean => {
          if (step.frames.length > 0) generation.log.append(step.frames);
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
        response.body.on('data', (chunk: Buffer) => {
          if (settled) return;
          idle.refresh();
          try {
            consume(pipeline.push(chunk));
          } catch {
            settle(internalFailure(`the ${provider.displayName} stream could not be read`));
          }
        });
        response.body.on('end', () => {
          if (settled) return;
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
        });
        response.body.on('error', (error: Error) => settle(classify(error)));
      },
      (error: unknown) => settle(classify(error)),
    );
  });
}

async function finish(
  plan: RunPlan,
  emitter: FrameEmitter,
  outcome: AttemptOutcome,
  attempts: number,
): Promise<void> {
  const { generation } = plan;
  const frames: Frame[] = [];
  let finishReason: Parameters<FrameEmitter['doneFrame']>[0];
  switch (outcome.kind) {
    case 'finished': {
      const reason = emitter.finalFinishReason() ?? 'stop';
      if (reason === 'content_filter') {
        frames.push(
          emitter.errorFrame({
            code: 'content_filter',
            message: `${plan.provider.displayName} stopped the answer by content filter (${emitter.finish?.raw ?? 'content_filter'})`,
            retryable: false,
          }),
        );
      }
      finishReason = reason;
      break;
    }
    case 'failed':
      // Provider bodies echo keys back (OpenAI's 401 does, masked); never let one through.
      frames.push(
        emitter.errorFrame({
          ...outcome.failure,
          message: redactSecrets(outcome.failure.message, [plan.providerSettings.apiKey ?? '']),
        }),
      );
      finishReason = outcome.failure.code === 'content_filter' ? 'content_filter' : 'error';
      break;
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
  const outputText = emitter.outputText;
  let usage: Usage;
  try {
    usage = await finalizeUsage(emitter.usage, plan.request.messages, outputText);
  } catch {
    usage = reportedUsage(emitter.usage);
  }
  frames.push(emitter.doneFrame(finishReason, usage, attempts, plan.receivedAt));
  generation.log.append(frames);
  generation.markEnded();
}
