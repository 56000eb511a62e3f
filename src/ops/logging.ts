import { type DestinationStream, type Logger, pino } from 'pino';

/**
 * The gateway's logs (CONTRACT.md section 10), through pino: one JSON object per line with
 * `level` (a word), `time` (ISO 8601) and `msg`. What is logged is chosen where it is logged:
 * ids, names, counts and codes, never message content and never a key.
 */

export type { Logger } from 'pino';

export type LogLevelName = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/**
 * U+2028, U+2029 and U+0085 end a line for some readers (JavaScript before ES2019, Python's
 * `splitlines`, log shippers). JSON may hold them raw inside strings; written escaped, a line
 * stays one line whatever a request put in a logged value (a model name).
 */
const LINE_BREAKERS = /[\u0085\u2028\u2029]/g;

function escapeLineBreakers(line: string): string {
  if (!/[\u0085\u2028\u2029]/.test(line)) return line;
  return line.replace(
    LINE_BREAKERS,
    (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * `,"time":"<ISO 8601>"` as pino's `isoTime` writes it, with the date and time up to the second
 * formatted once a second: `toISOString` per line was a tenth of a line's cost.
 */
export function isoTimeBySecond(): () => string {
  let second = Number.NaN;
  let prefix = '';
  return () => {
    const now = Date.now();
    const millis = now % 1000;
    if (now - millis !== second) {
      second = now - millis;
      // "2026-11-27T21:04:26." of "2026-11-27T21:04:26.000Z"
      prefix = `,"time":"${new Date(second).toISOString().slice(0, 20)}`;
    }
    return `${prefix}${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z"`;
  };
}

export interface LoggerOptions {
  level: LogLevelName;
  /** Where lines go: a stream (tests), or a file descriptor or path (default: 1, stdout). */
  destination?: DestinationStream | number | string;
}

/** Lines are written in batches of at least this many bytes... */
const BATCH_BYTES = 4096;
/** ...or this often, whichever comes first: a quiet gateway's lines still appear promptly. */
const FLUSH_EVERY_MS = 500;
/** Lines held while the reader does not keep up; past this they are dropped (and counted). */
const MAX_HELD_BYTES = 16 * 1024 * 1024;
/** A notice of dropped lines goes to stderr at most this often. */
const DROP_NOTICE_MS = 60_000;

/**
 * Lines go through sonic-boom asynchronously, in batches: one write per 4 KB (or half a second)
 * rather than a blocking write per line, so a slow reader of stdout (a log shipper) never stalls
 * the event loop that serves the streams. Memory is bounded: past 16 MB waiting, lines are
 * dropped and the count is said on stderr. What is held is written on shutdown (`flushLogger`)
 * and, synchronously, when the process exits (pino's exit hook).
 */
function batchedDestination(target: number | string): DestinationStream {
  const stream = pino.destination({
    ...(typeof target === 'number' ? { fd: target } : { dest: target }),
    sync: false,
    minLength: BATCH_BYTES,
    periodicFlush: FLUSH_EVERY_MS,
    maxLength: MAX_HELD_BYTES,
  });
  let dropped = 0;
  let noticeAt = 0;
  stream.on('drop', () => {
    dropped++;
    const now = Date.now();
    if (now - noticeAt < DROP_NOTICE_MS) return;
    noticeAt = now;
    process.stderr.write(
      `sluice: ${dropped} log line(s) dropped so far: the log destination does not keep up (more than ${MAX_HELD_BYTES / 1048576} MB waiting)\n`,
    );
  });
  return stream;
}

export function createLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? 1;
  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      timestamp: isoTimeBySecond(),
      formatters: { level: (label) => ({ level: label }) },
      hooks: { streamWrite: escapeLineBreakers },
    },
    typeof destination === 'object' ? destination : batchedDestination(destination),
  );
}

/**
 * Writes every line the logger holds; resolves when they are written, or after `timeoutMs` if
 * the destination does not take them (a reader that stopped reading must not hold up an exit).
 */
export function flushLogger(logger: Logger, timeoutMs = 2000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    timer.unref();
    try {
      logger.flush(() => {
        clearTimeout(timer);
        resolve();
      });
    } catch {
      // A destroyed destination has nothing more to write.
      clearTimeout(timer);
      resolve();
    }
  });
}
