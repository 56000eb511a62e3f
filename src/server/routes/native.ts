import { RequestError } from '../../core/errors.js';
import { negotiateForm } from '../../faces/accept.js';
import { ndjsonEncoder } from '../../faces/ndjson/encoder.js';
import { textEncoder, textResumePoint } from '../../faces/text/encoder.js';
import type { StreamEncoder } from '../../faces/types.js';
import type { GenerationStore } from '../../generation/store.js';
import { STREAM_TOKEN_QUERY } from '../../ops/auth.js';
import { API_PATHS, GENERATION_ID_HEADER, matchGenerationPath } from '../../protocol/http.js';
import type { GatewayOps } from '../ops.js';
import { parseAfterId, sendJson } from '../respond.js';
import { at, type Route, type RouteCall } from '../router.js';
import type { GenerationService } from '../service.js';
import type { StreamWriterOptions } from '../stream-writer.js';
import { followLog } from '../stream-writer.js';

export interface NativeRoutesContext {
  service: GenerationService;
  store: GenerationStore;
  /** The native stream's encoder (SSE). */
  encoder: StreamEncoder;
  writer: Omit<StreamWriterOptions, 'afterId' | 'headers'>;
  /** Signs `stream_url` tokens when the gateway has keys. */
  ops?: GatewayOps | undefined;
}

/** Query of a plain-text resume: the bytes of the body the reader already holds. */
const TEXT_OFFSET_QUERY = 'offset';

const notFound = (): RequestError => new RequestError('not_found', 'unknown or expired generation id');

/** Route labels of the per-generation paths, as metrics name them. */
export const GENERATION_ROUTE_LABELS = {
  resume: '/api/v1/chat/stream/{id}',
  cancel: '/api/v1/chat/stream/{id}/cancel',
  generation: '/api/v1/generations/{id}',
} as const;

/**
 * One route per generation path kind (resume, cancel, result), matched by the shared pattern.
 * The reads (resume, result) also take the `stream_url` token in place of a key.
 */
function generationRoute(
  kind: 'resume' | 'cancel' | 'generation',
  methods: Route['methods'],
  head = false,
): Route {
  return {
    match(path) {
      const match = matchGenerationPath(path);
      return match?.route === kind ? { id: match.generationId } : undefined;
    },
    methods,
    head,
    label: GENERATION_ROUTE_LABELS[kind],
    streamToken: kind !== 'cancel',
  };
}

/** The native API of CONTRACT.md sections 2 to 4. */
export function nativeRoutes(context: NativeRoutesContext): Route[] {
  const { service, store, encoder } = context;

  const start = async (call: RouteCall) => {
    const chat = service.parse(await service.readBody(call.request));
    return service.start(chat, { owner: call.scope.owner, receivedAt: call.receivedAt, scope: call.scope });
  };

  /** The form the request's `Accept` asks for (CONTRACT.md section 8): SSE, NDJSON or plain text. */
  const encoderFor = (call: RouteCall): StreamEncoder => {
    const form = negotiateForm(call.request.headers.accept);
    return form === 'sse' ? encoder : form === 'ndjson' ? ndjsonEncoder : textEncoder();
  };

  const stream = {
    async POST(call: RouteCall) {
      const generation = await start(call);
      followLog(generation, call.response, encoderFor(call), {
        afterId: 0,
        headers: call.cors,
        ...context.writer,
      });
    },
  };

  return [
    at(API_PATHS.health, { GET: (call) => sendJson(call.response, 200, service.health(), call.cors) }, true, {
      public: true,
    }),
    at(API_PATHS.stream, stream),
    at(API_PATHS.streamAlias, stream),
    at(API_PATHS.generations, {
      async POST(call) {
        const generation = await start(call);
        // No reader yet: the grace period gives a client (EventSource) time to attach.
        generation.startGrace();
        // With keys, the URL carries a token for this generation alone: EventSource sends no headers.
        const token = context.ops?.streamToken(call.scope, generation.id);
        const streamUrl = `${API_PATHS.resume(generation.id)}${token === undefined ? '' : `?${STREAM_TOKEN_QUERY}=${token}`}`;
        sendJson(
          call.response,
          201,
          { generation_id: generation.id, stream_url: streamUrl },
          Object.assign({}, call.cors, { Location: streamUrl }),
        );
      },
    }),
    generationRoute('cancel', {
      async POST(call) {
        const outcome = await store.cancel(call.params.id ?? '');
        if (outcome === 'unknown') throw notFound();
        if (outcome === 'cancelled') {
          sendJson(call.response, 200, { cancelled: true }, call.cors);
          return;
        }
        const reason =
          outcome === 'stopping' ? 'the generation is already stopping' : 'the generation already ended';
        sendJson(call.response, 409, { cancelled: false, reason }, call.cors);
      },
    }),
    generationRoute('resume', {
      async GET(call) {
        let afterId = parseAfterId(call.request, call.url);
        const generation = await store.follow(call.params.id ?? '');
        if (generation === undefined) throw notFound();
        let form = encoderFor(call);
        let complete = generation.log.ended && afterId >= generation.log.lastId;
        const offset = call.url.searchParams.get(TEXT_OFFSET_QUERY);
        if (offset !== null && negotiateForm(call.request.headers.accept) === 'text') {
          // A plain-text reader knows how many bytes it holds, not which frame they came from.
          if (!/^\d{1,15}$/.test(offset)) {
            throw new RequestError(
              'invalid_request',
              'offset must be a non-negative integer',
              TEXT_OFFSET_QUERY,
            );
          }
          const point = textResumePoint(generation.log, Number(offset));
          if (typeof point === 'string') throw new RequestError('invalid_request', point, TEXT_OFFSET_QUERY);
          afterId = point.afterId;
          complete = point.complete;
          form = textEncoder(point);
        }
        if (complete) {
          // Nothing left to send: 204 tells a browser EventSource to stop reconnecting.
          call.response.writeHead(
            204,
            Object.assign({}, call.cors, { [GENERATION_ID_HEADER]: generation.id }),
          );
          call.response.end();
          return;
        }
        followLog(generation, call.response, form, { afterId, headers: call.cors, ...context.writer });
      },
    }),
    generationRoute(
      'generation',
      {
        async GET(call) {
          const result = await store.result(call.params.id ?? '');
          if (result === undefined) throw notFound();
          sendJson(call.response, 200, result, call.cors);
        },
      },
      true,
    ),
  ];
}
