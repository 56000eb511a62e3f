import type { GatewayOps } from '../ops.js';
import { sendJson } from '../respond.js';
import { at, type Route } from '../router.js';

/** Paths of the operational routes (CONTRACT.md section 10). */
export const OPS_PATHS = {
  metrics: '/metrics',
  livez: '/livez',
  readyz: '/readyz',
} as const;

export interface OpsRoutesContext {
  ops: GatewayOps;
  isShuttingDown(): boolean;
}

/**
 * `GET /livez` (the process runs), `GET /readyz` (it takes new work: not shutting down, Redis
 * answering) and `GET /metrics` (Prometheus text; with keys it needs one, like every route but
 * health and the probes).
 */
export function opsRoutes(context: OpsRoutesContext): Route[] {
  const { ops } = context;
  const routes: Route[] = [
    at(OPS_PATHS.livez, { GET: (call) => sendJson(call.response, 200, { status: 'ok' }, call.cors) }, true, {
      public: true,
    }),
    at(
      OPS_PATHS.readyz,
      {
        async GET(call) {
          const state = await ops.ready(context.isShuttingDown());
          const body = state.ready ? { status: 'ready' } : { status: 'not_ready', reason: state.reason };
          sendJson(call.response, state.ready ? 200 : 503, body, call.cors);
        },
      },
      true,
      { public: true },
    ),
  ];
  const metrics = ops.metrics;
  if (metrics !== undefined) {
    routes.push(
      at(
        OPS_PATHS.metrics,
        {
          async GET(call) {
            const { contentType, body } = await metrics.scrape();
            call.response.writeHead(200, {
              ...call.cors,
              'Content-Type': contentType,
              'Content-Length': Buffer.byteLength(body),
              'Cache-Control': 'no-store',
            });
            call.response.end(body);
          },
        },
        true,
      ),
    );
  }
  return routes;
}
