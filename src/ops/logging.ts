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

export interface LoggerOptions {
  level: LogLevelName;
  /** Where lines go (default: stdout). */
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      hooks: { streamWrite: escapeLineBreakers },
    },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
