import { DONE_SENTINEL, encodeComment, encodeEvent, encodeRetry } from '../core/sse-encode.js';
import type { LogReader } from '../generation/log.js';
import { STREAM_HEADERS } from '../protocol/http.js';
import type { StreamEncoder } from './types.js';

/**
 * The native form: one SSE event per frame (`id`, `event`, `data`), `retry:` before the first,
 * `: ping` comments as keep-alive, `data: [DONE]` after `done`.
 */
export function sseEncoder(clientRetryMs: number): StreamEncoder {
  const retry = encodeRetry(clientRetryMs);
  return {
    headers: STREAM_HEADERS,
    encode(log: LogReader, fromId: number, toId: number, first: boolean): string {
      let text = first ? retry : '';
      for (let id = fromId; id <= toId; id++) text += encodeEvent(id, log.event(id), log.dataJson(id));
      return text;
    },
    keepAlive: encodeComment('ping'),
    trailer: DONE_SENTINEL,
  };
}
