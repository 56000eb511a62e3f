import { SluiceConnectionError, SluiceError, SluiceRequestError } from '../client/index.js';
import { UsageError } from './args.js';

/** Exit codes scripts can rely on; `sluice help` documents them. */
export const EXIT = {
  ok: 0,
  /** The stream ended badly: an error frame, a finish other than stop/length/tool_calls, a lost stream. */
  streamFailed: 1,
  usage: 2,
  unreachable: 3,
  refused: 4,
  interrupted: 130,
} as const;

export const DEFAULT_URL = 'http://127.0.0.1:8000';

/** `--api-key`, else `SLUICE_API_KEY`: the gateway key, for a gateway that needs one. */
export function apiKeyOption(option: string | undefined): string | undefined {
  const key = option ?? (process.env.SLUICE_API_KEY || undefined);
  if (key !== undefined && !/^[\x21-\x7e]{1,512}$/.test(key)) {
    throw new UsageError(
      'the gateway key (--api-key or SLUICE_API_KEY) must be visible ASCII without spaces',
    );
  }
  return key;
}

/** `--url`, else `SLUICE_URL`, else the default; must be an http(s) URL. */
export function gatewayUrl(option: string | undefined): string {
  const raw = option ?? (process.env.SLUICE_URL || DEFAULT_URL);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--url must be an http(s) URL, got "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--url must be an http(s) URL, got "${raw}"`);
  }
  return raw.replace(/\/+$/, '');
}

/** The message and exit code for an error that ended a command. */
export function describeFailure(
  error: unknown,
  url: string,
  help: string,
): { code: number; message: string } {
  if (error instanceof UsageError) {
    return { code: EXIT.usage, message: `${error.message}\n${help}` };
  }
  if (error instanceof SluiceRequestError) {
    const field = error.field === undefined ? '' : ` (field: ${error.field})`;
    return {
      code: EXIT.refused,
      message: `request refused: ${error.message}${field} [${error.status} ${error.code}]`,
    };
  }
  if (error instanceof SluiceConnectionError && error.code === 'unreachable') {
    return {
      code: EXIT.unreachable,
      message: `cannot reach the gateway: is the gateway running at ${url}? start one with \`sluice serve --demo\` (emulated providers) or \`sluice serve\` (or set --url / SLUICE_URL)`,
    };
  }
  if (error instanceof SluiceError) return { code: EXIT.streamFailed, message: error.message };
  if (error instanceof Error && error.name === 'AbortError')
    return { code: EXIT.interrupted, message: 'interrupted' };
  return { code: EXIT.streamFailed, message: error instanceof Error ? error.message : String(error) };
}

/**
 * Calls `onFirst` at the first Ctrl-C (the command stops and cancels upstream, then exits 130);
 * a second Ctrl-C exits at once. Returns the function that removes the handler.
 */
export function onInterrupt(onFirst: () => void): () => void {
  let count = 0;
  const handler = (): void => {
    count++;
    if (count === 1) onFirst();
    else process.exit(EXIT.interrupted);
  };
  process.on('SIGINT', handler);
  return () => process.off('SIGINT', handler);
}

/**
 * Writes to stdout, waiting for `drain` when the pipe is full so a slow reader is not buffered
 * without bound. Resolves too when stdout closes or fails (a reader that went away).
 */
export function writeOut(text: string): Promise<void> {
  const stdout = process.stdout;
  if (stdout.destroyed || stdout.write(text)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      stdout.off('drain', done);
      stdout.off('close', done);
      stdout.off('error', done);
      resolve();
    };
    stdout.on('drain', done);
    stdout.on('close', done);
    stdout.on('error', done);
  });
}

/** Writes to stderr. */
export function writeErr(text: string): void {
  process.stderr.write(text);
}
