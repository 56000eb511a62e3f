import type { IncomingMessage, ServerResponse } from 'node:http';
import { RequestError } from '../core/errors.js';
import { LAST_EVENT_ID_HEADER, LAST_EVENT_ID_QUERY } from '../protocol/http.js';
import { lingerAfterAnswer } from './body.js';

/** One JSON answer with its length, never cached. */
export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string>,
  closeConnection = false,
): void {
  const text = JSON.stringify(body);
  const allHeaders: Record<string, string | number> = Object.assign({}, headers, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  if (closeConnection) allHeaders.Connection = 'close';
  response.writeHead(status, allHeaders);
  response.end(text);
}

/** A refusal before any stream: its status and JSON body (`toJSON` decides the body's shape). */
export function sendError(
  request: IncomingMessage,
  response: ServerResponse,
  error: RequestError,
  headers: Record<string, string>,
  body: unknown = error.toJSON(),
): void {
  // A body that may still be arriving is not read: the connection closes after the answer,
  // in a way that lets the client read it.
  const unread = !request.complete;
  if (unread) lingerAfterAnswer(request.socket);
  sendJson(response, error.status, body, headers, unread);
}

/** The frame id a resumed reader already has: `Last-Event-ID`, or the `last_event_id` query. */
export function parseAfterId(request: IncomingMessage, url: URL): number {
  const header = request.headers[LAST_EVENT_ID_HEADER.toLowerCase()];
  const raw =
    (typeof header === 'string' ? header : undefined) ?? url.searchParams.get(LAST_EVENT_ID_QUERY) ?? '';
  if (raw.trim() === '') return 0;
  if (!/^\d{1,15}$/.test(raw.trim())) {
    throw new RequestError(
      'invalid_request',
      'Last-Event-ID must be a non-negative integer',
      LAST_EVENT_ID_QUERY,
    );
  }
  return Number(raw.trim());
}
