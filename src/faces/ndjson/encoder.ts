import type { LogReader } from '../../generation/log.js';
import { NDJSON_TYPE } from '../accept.js';
import type { StreamEncoder } from '../types.js';

/** Same caching and proxy rules as the SSE form: every line arrives as it is written. */
const NDJSON_HEADERS = {
  'Content-Type': NDJSON_TYPE,
  'Cache-Control': 'no-cache',
  'X-Accel-Buffering': 'no',
} as const;

/**
 * One frame as one NDJSON line: `{"id": n, "event": "...", "data": {...}}`. The data JSON is the
 * log's (the same bytes the SSE form carries), which never holds a line end.
 */
export function ndjsonLine(id: number, event: string, dataJson: string): string {
  return `{"id":${id},"event":"${event}","data":${dataJson}}\n`;
}

/**
 * The native stream as NDJSON (CONTRACT.md section 8), for `fetch` plus a line reader: one line
 * per frame, the body ending after the `done` line (no sentinel). Lines carry the frame ids, so a
 * reader resumes with `Last-Event-ID` (or `last_event_id`) like an SSE reader. Keep-alive is an
 * empty line, which line readers skip.
 */
export const ndjsonEncoder: StreamEncoder = {
  headers: NDJSON_HEADERS,
  encode(log: LogReader, fromId: number, toId: number): string {
    let text = '';
    for (let id = fromId; id <= toId; id++) text += ndjsonLine(id, log.frame(id).event, log.dataJson(id));
    return text;
  },
  keepAlive: '\n',
  trailer: '',
};
