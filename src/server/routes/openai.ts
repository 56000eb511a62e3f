import type { ServerResponse } from 'node:http';
import { RequestError } from '../../core/errors.js';
import { completionIdentity, openAiChunkEncoder } from '../../faces/openai/chunks.js';
import { completionAnswer } from '../../faces/openai/completion.js';
import { failureStatus, openAiFailure, openAiRefusal } from '../../faces/openai/errors.js';
import { catalogOf, type ModelCatalog, modelObjects, qualifiedModelName } from '../../faces/openai/models.js';
import { type AdaptedRequest, adaptChatCompletion } from '../../faces/openai/request.js';
import type { Generation } from '../../generation/generation.js';
import type { LogReader } from '../../generation/log.js';
import type { FrameEvent } from '../../protocol/frames.js';
import { GENERATION_ID_HEADER } from '../../protocol/http.js';
import { sendError, sendJson } from '../respond.js';
import { at, type Handler, type Route, type RouteCall } from '../router.js';
import type { GenerationService } from '../service.js';
import { followLog, type StreamWriterOptions } from '../stream-writer.js';

/** Where the OpenAI-compatible API lives: clients are configured with `baseURL = <gateway>/v1`. */
export const OPENAI_PATHS = {
  chatCompletions: '/v1/chat/completions',
  models: '/v1/models',
} as const;

export interface OpenAiRoutesContext {
  service: GenerationService;
  writer: Omit<StreamWriterOptions, 'afterId' | 'headers'>;
}

/**
 * Frames after which a response's fate is known: content went out (the stream starts), or the
 * generation failed or ended first. `start`, `metadata` and a fallback switch are not among them.
 */
const DECISIVE: ReadonlySet<FrameEvent> = new Set<FrameEvent>([
  'thinking',
  'redacted_thinking',
  'chunk',
  'tool_call_start',
  'tool_call',
  'error',
  'cancelled',
  'done',
]);

/**
 * Holds a reader on the generation until `settled(log)` (true) or the client leaves (false, and
 * the reader is released, so the grace period starts as on the native endpoint). On true the
 * caller owns the reader and releases it once its own answer or stream holds one.
 */
function waitOnLog(
  generation: Generation,
  response: ServerResponse,
  settled: (log: LogReader) => boolean,
): Promise<boolean> {
  return new Promise((resolve) => {
    generation.attachReader();
    if (settled(generation.log)) {
      resolve(true);
      return;
    }
    let finished = false;
    const finish = (present: boolean): void => {
      if (finished) return;
      finished = true;
      unsubscribe();
      response.off('close', onClose);
      if (!present) generation.detachReader();
      resolve(present);
    };
    const onClose = (): void => finish(false);
    const unsubscribe = generation.log.subscribe(() => {
      if (settled(generation.log)) finish(true);
    });
    response.on('close', onClose);
  });
}

/** The first decisive frame of the log, scanning on from `from.id`; undefined while none is there. */
function firstDecisive(log: LogReader, from: { id: number }): FrameEvent | undefined {
  for (; from.id <= log.lastId; from.id++) {
    const event = log.frame(from.id).event;
    if (DECISIVE.has(event)) return event;
  }
  return undefined;
}

/** The OpenAI-compatible API (CONTRACT.md section 9): Chat Completions and the model list. */
export function openAiRoutes(context: OpenAiRoutesContext): Route[] {
  const { service } = context;
  // Providers, their models and keys are fixed for the process's life.
  let catalog: ModelCatalog | undefined;
  const catalogNow = (): ModelCatalog => {
    catalog ??= catalogOf(service.health());
    return catalog;
  };
  const listedAt = Math.floor(Date.now() / 1000);

  /** Refusals in OpenAI's shape, with OpenAI's names of the fields at fault. */
  const speaksOpenAi =
    (handler: (call: RouteCall, adapted: { current?: AdaptedRequest }) => Promise<void>): Handler =>
    async (call) => {
      const adapted: { current?: AdaptedRequest } = {};
      try {
        await handler(call, adapted);
      } catch (error) {
        if (!(error instanceof RequestError) || call.response.headersSent) throw error;
        const param = adapted.current?.param(error.field) ?? error.field;
        const refusal = openAiRefusal(error, param);
        const answered =
          refusal.status === error.status ? error : new RequestError('not_found', error.message, error.field);
        sendError(call.request, call.response, answered, call.cors, refusal.body);
      }
    };

  const completions = speaksOpenAi(async (call, adapted) => {
    const request = adaptChatCompletion(await service.readBody(call.request), catalogNow());
    adapted.current = request;
    const chat = service.parse(request.native);
    const generation = await service.start(chat, {
      owner: call.scope.owner,
      receivedAt: call.receivedAt,
      scope: call.scope,
    });
    const identity = completionIdentity(
      generation.id,
      generation.createdAt,
      qualifiedModelName(generation.provider, generation.model),
    );
    const headers = Object.assign({}, call.cors, { [GENERATION_ID_HEADER]: generation.id });

    if (!request.stream) {
      if (!(await waitOnLog(generation, call.response, (log) => log.ended))) return;
      const answer = completionAnswer(identity, generation.result());
      sendJson(call.response, answer.status, answer.body, headers);
      generation.detachReader();
      return;
    }

    // Headers wait for the first content, so that a generation failing before it (after the
    // gateway's own retries) is answered with the status OpenAI would give: the SDKs raise
    // RateLimitError, AuthenticationError, ... at the call, as they do against OpenAI.
    const cursor = { id: 1 };
    let first: FrameEvent | undefined;
    const present = await waitOnLog(generation, call.response, (log) => {
      first ??= firstDecisive(log, cursor);
      return first !== undefined || log.ended;
    });
    if (!present) return;
    const failure = first === undefined ? undefined : generation.log.frame(cursor.id);
    if (
      failure?.event === 'cancelled' ||
      (failure?.event === 'error' && failure.data.code !== 'content_filter')
    ) {
      const code = failure.event === 'error' ? failure.data.code : 'cancelled';
      const message = failure.event === 'error' ? failure.data.message : 'the generation was cancelled';
      sendJson(call.response, failureStatus(code), openAiFailure(code, message), headers);
      generation.detachReader();
      return;
    }
    const encoder = openAiChunkEncoder({ includeUsage: request.includeUsage, ...identity });
    followLog(generation, call.response, encoder, { afterId: 0, headers: call.cors, ...context.writer });
    // The stream holds its own reader now.
    generation.detachReader();
  });

  const listModels: Handler = (call) => {
    sendJson(call.response, 200, { object: 'list', data: modelObjects(catalogNow(), listedAt) }, call.cors);
  };

  const modelRoute: Route = {
    match(path) {
      const prefix = `${OPENAI_PATHS.models}/`;
      if (!path.startsWith(prefix) || path.length === prefix.length) return undefined;
      try {
        return { id: decodeURIComponent(path.slice(prefix.length)) };
      } catch {
        return { id: '' };
      }
    },
    methods: {
      GET: speaksOpenAi(async (call) => {
        const id = call.params.id ?? '';
        const model = modelObjects(catalogNow(), listedAt).find((entry) => entry.id === id);
        if (model === undefined) {
          throw new RequestError('model_not_supported', `The model "${id}" does not exist`, 'model');
        }
        sendJson(call.response, 200, model, call.cors);
      }),
    },
    head: true,
  };

  return [
    at(OPENAI_PATHS.chatCompletions, { POST: completions }),
    at(OPENAI_PATHS.models, { GET: listModels }, true),
    modelRoute,
  ];
}
