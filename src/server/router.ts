import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CallScope, RouteAccess } from './ops.js';

/** One request as a route handler sees it. */
export interface RouteCall {
  request: IncomingMessage;
  response: ServerResponse;
  url: URL;
  /** The path without query or trailing slash. */
  path: string;
  /** What the route's matcher took from the path (a generation id, ...). */
  params: Readonly<Record<string, string>>;
  /** `performance.now()` when the request arrived. */
  receivedAt: number;
  /** CORS headers for this request's origin (empty unless configured). */
  cors: Record<string, string>;
  /** Request id, trace context, and who the request acts for (its key, or its address). */
  scope: CallScope;
}

export type Handler = (call: RouteCall) => Promise<void> | void;

/**
 * A path and what each method does there. With gateway keys, every route needs one unless it
 * is `public`; a route whose params hold a generation `id` answers only that generation's key.
 */
export interface Route extends RouteAccess {
  match(path: string): Readonly<Record<string, string>> | undefined;
  methods: Partial<Record<'GET' | 'POST', Handler>>;
  /** `HEAD` answers like `GET` without a body (node:http drops it). */
  head?: boolean;
  /** The route in metrics (`/api/v1/chat/stream/{id}`); a fixed path is its own label. */
  label?: string;
}

/** A route at one fixed path. */
export function at(path: string, methods: Route['methods'], head = false, access: RouteAccess = {}): Route {
  return {
    match: (candidate) => (candidate === path ? {} : undefined),
    methods,
    head,
    label: path,
    ...access,
  };
}

/** The methods a route answers, for `Allow`. */
export function allowedMethods(route: Route): string[] {
  const methods: string[] = Object.keys(route.methods);
  if (route.head && route.methods.GET !== undefined) methods.push('HEAD');
  return [...methods, 'OPTIONS'];
}

/** The handler of `method` on `route`, if it answers it. */
export function handlerFor(route: Route, method: string): Handler | undefined {
  if (method === 'GET' || method === 'POST') return route.methods[method];
  if (method === 'HEAD' && route.head) return route.methods.GET;
  return undefined;
}
