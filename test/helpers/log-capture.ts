import { createLogger, type Logger } from '../../src/ops/logging.js';

/** A gateway logger whose JSON lines are kept, parsed, for a test to read. */
export function captureLogs(level: 'debug' | 'info' = 'info'): {
  logger: Logger;
  lines: Record<string, unknown>[];
  raw: string[];
} {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const logger = createLogger({
    level,
    destination: {
      write(text: string) {
        raw.push(text);
        lines.push(JSON.parse(text) as Record<string, unknown>);
      },
    },
  });
  return { logger, lines, raw };
}
