import type { IncomingMessage } from 'node:http';
import { RequestError } from '../core/errors.js';

/** Reads a JSON request body within the size bound, refusing other media types. */
export async function readJsonBody(request: IncomingMessage, maxBytes: number): Promise<unknown> {
  const contentType = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (contentType !== 'application/json' && !/^application\/[\w.+-]*\+json$/.test(contentType)) {
    throw new RequestError(
      'unsupported_media_type',
      `Content-Type must be application/json${contentType ? `, got ${contentType}` : ''}`,
    );
  }
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new RequestError('payload_too_large', `request body exceeds ${maxBytes} bytes`);
  }
  const pieces: Buffer[] = [];
  let total = 0;
  for await (const piece of request as AsyncIterable<Buffer>) {
    total += piece.length;
    if (total > maxBytes)
      throw new RequestError('payload_too_large', `request body exceeds ${maxBytes} bytes`);
    pieces.push(piece);
  }
  const text = Buffer.concat(pieces).toString('utf8');
  if (text.trim().length === 0) throw new RequestError('invalid_request', 'request body is empty');
  try {
    return JSON.parse(text);
  } catch {
    throw new RequestError('invalid_request', 'request body is not valid JSON');
  }
}
