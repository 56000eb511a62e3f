/**
 * Terminal styling. Colour only when both output streams are terminals and NO_COLOR is unset
 * (https://no-color.org): reasoning goes to stderr, and escape codes must never reach a file
 * or a pipe through either stream.
 */
export function colorEnabled(): boolean {
  const noColor = process.env.NO_COLOR;
  return Boolean(process.stdout.isTTY && process.stderr.isTTY) && (noColor === undefined || noColor === '');
}

export interface Styles {
  dim(text: string): string;
  bold(text: string): string;
  red(text: string): string;
  cyan(text: string): string;
}

const plain = (text: string): string => text;

export function styles(enabled: boolean): Styles {
  if (!enabled) return { dim: plain, bold: plain, red: plain, cyan: plain };
  const wrap =
    (open: number, close: number) =>
    (text: string): string =>
      text === '' ? text : `\u001b[${open}m${text}\u001b[${close}m`;
  return { dim: wrap(2, 22), bold: wrap(1, 22), red: wrap(31, 39), cyan: wrap(36, 39) };
}

/** A one-line progress bar redrawn in place on stderr; does nothing unless stderr is a terminal. */
export class ProgressBar {
  private readonly enabled = Boolean(process.stderr.isTTY);
  private drawn = false;

  constructor(private readonly total: number) {}

  update(done: number, label: string): void {
    if (!this.enabled) return;
    const width = 24;
    const filled = this.total === 0 ? width : Math.round((done / this.total) * width);
    const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
    // A pseudo-terminal may report 0 columns: treat that as unknown.
    const columns = process.stderr.columns || 80;
    const line = `[${bar}] ${done}/${this.total} ${label}`.slice(0, Math.max(10, columns - 1));
    process.stderr.write(`\r\u001b[K${line}`);
    this.drawn = true;
  }

  clear(): void {
    if (this.drawn) process.stderr.write('\r\u001b[K');
    this.drawn = false;
  }
}
