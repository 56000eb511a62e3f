import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { boundedCache } from '../core/bounded-cache.js';
import { RequestError } from '../core/errors.js';
import { sseEncoder } from '../faces/sse.js';
import { LAST_EVENT_ID_HEADER } from '../protocol/http.js';
import type { CallScope, GatewayOps } from './ops.js';
import { corsHeaders as corsHeadersFor, hostAllowed } from './origin.js';
import { sendError } from './respond.js';
import { allowedMethods, handlerFor, type Route } from './router.js';
import { GENERATION_ROUTE_LABELS, nativeRoutes } from './routes/native.js';
import { openAiRoutes } from './routes/openai.js';
import { opsRoutes } from './routes/ops.js';
import { uiRoutes } from './routes/ui.js';
import { createGenerationService, type ServiceContext } from './service.js';
import type { StaticFiles } from './static.js';

export type { ProviderRuntime } from './service.js';

export interface AppContext extends ServiceContext {
  ops: GatewayOps;
  staticFiles: StaticFiles | undefined;
  /** Whether the server listens on a loopback address (then only local `Host` names are served). */
  boundToLoopback(): boolean;
}

interface ParsedTarget {
  /** Read only: one object serves every request with the same query-less target. */
  url: URL;
  /** The normalised path, without trailing slashes. */
  path: string;
}

/** Query-less targets are a handful of routes, parsed once each; the bound keeps odd ones from piling up. */
const parseTarget = boundedCache(
  256,
  (target): ParsedTarget => {
    // Prefixed, so that a target starting with `//` stays a path rather than naming a host.
    const url = new URL(target.startsWith('/') ? `http://gateway${target}` : target, 'http://gateway');
    return { url, path: url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname };
  },
  (target) => !target.includes('?') && target.length <= 256,
);

/**
 * The gateway's HTTP edge on node:http: the checks every request passes (request id, Host,
 * CORS, preflight), then the first route whose path matches (behind its key, when the gateway
 * has keys), then the web page's files (which need no key).
 */
export function createRequestHandler(
  context: AppContext,
): (request: IncomingMessage, response: ServerResponse) => void {
  const { settings, ops } = context;
  const service = createGenerationService(context);
  const writer = {
    keepAliveMs: settings.keepAliveMs,
    bufferFrames: settings.bufferFrames,
    stallTimeoutMs: settings.stallTimeoutMs,
  };
  const routes: Route[] = [
    ...nativeRoutes({
      service,
      store: context.store,
      encoder: sseEncoder(settings.clientRetryMs),
      writer,
      ops,
    }),
    ...openAiRoutes({ service, writer }),
    ...uiRoutes({ service, writer }),
    ...opsRoutes({ ops, isShuttingDown: context.isShuttingDown }),
  ];

  const dispatch = async (
    request: IncomingMessage,
    response: ServerResponse,
    receivedAt: number,
    cors: Record<string, string>,
    scope: CallScope,
  ): Promise<void> => {
    const target = request.url ?? '/';
    const { url, path } = parseTarget(target);
    const method = request.method ?? 'GET';

    if (method === 'OPTIONS') {
      const preflight =
        cors['Access-Control-Allow-Origin'] === undefined
          ? {}
          : {
              'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
              'Access-Control-Allow-Headers': `Content-Type, ${LAST_EVENT_ID_HEADER}, Authorization, X-Api-Key, X-Request-Id, traceparent, tracestate`,
              'Access-Control-Max-Age': '600',
            };
      response.writeHead(204, Object.assign({}, cors, preflight));
      response.end();
      return;
    }

    for (const route of routes) {
      const params = route.match(path);
      if (params === undefined) continue;
      scope.route = route.label ?? 'other';
      const handler = handlerFor(route, method);
      if (handler === undefined) {
        const allowed = allowedMethods(route);
        response.setHeader('Allow', allowed.join(', '));
        throw new RequestError(
          'method_not_allowed',
          `${method} is not allowed here; use ${allowed.filter((name) => name !== 'OPTIONS').join(' or ')}`,
        );
      }
      await ops.authorize(route, request, url, params.id, scope);
      await handler({ request, response, url, path, params, receivedAt, cors, scope });
      ops.streamResponse(response);
      if (response.statusCode === 200 && route.label === GENERATION_ROUTE_LABELS.resume)
        ops.metrics?.resumed();
      if (response.statusCode === 200 && route.label === GENERATION_ROUTE_LABELS.cancel)
        ops.metrics?.cancelled();
      return;
    }
    // Files are looked up by the path exactly as sent: any other spelling of a file's path is a 404.
    const filePath = target.startsWith('/') ? (target.split('?', 1)[0] ?? '') : '';
    // node:http writes no body in answer to HEAD: a page answers HEAD like GET.
    if ((method === 'GET' || method === 'HEAD') && context.staticFiles?.serve(filePath, response)) {
      scope.route = 'static';
      return;
    }
    throw new RequestError('not_found', `no route for ${method} ${path}`);
  };

  const allowedHosts = settings.allowedHosts;
  return (request, response) => {
    const receivedAt = performance.now();
    // Every answer, JSON, stream or page, is exactly the type it says.
    response.setHeader('X-Content-Type-Options', 'nosniff');
    const scope = ops.begin(request, response);
    if (context.boundToLoopback() && !hostAllowed(request.headers.host, allowedHosts)) {
      scope.refusal = 'host_not_allowed';
      const host = JSON.stringify((request.headers.host ?? '').slice(0, 100));
      sendError(
        request,
        response,
        new RequestError(
          'host_not_allowed',
          `this gateway serves only its loopback names and SLUICE_ALLOWED_HOSTS, not Host ${host}`,
        ),
        {},
      );
      return;
    }
    const cors = corsHeadersFor(settings.corsOrigins, request.headers.origin);
    dispatch(request, response, receivedAt, cors, scope).catch((error: unknown) => {
      if (response.headersSent) {
        response.destroy();
        return;
      }
      const requestError =
        error instanceof RequestError
          ? error
          : new RequestError('invalid_request', 'the request could not be read');
      scope.refusal = requestError.code;
      const headers =
        requestError.code === 'unauthorized'
          ? Object.assign({}, cors, { 'WWW-Authenticate': 'Bearer realm="sluice"' })
          : cors;
      sendError(request, response, requestError, headers);
    });
  };
}
