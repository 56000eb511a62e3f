import type { LogReader } from '../generation/log.js';

/**
 * One output form of a generation's log (SSE, and the forms that follow it). The stream writer
 * follows the log and asks the encoder for the text of each run of new frames; the encoder
 * knows nothing of sockets.
 */
export interface StreamEncoder {
  /** Response headers of this form (`Content-Type` and what proxies need). */
  readonly headers: Readonly<Record<string, string>>;
  /** The text of frames `fromId..toId` (inclusive); `first` is true for a response's first text. */
  encode(log: LogReader, fromId: number, toId: number, first: boolean): string;
  /** Written when nothing else was for a keep-alive interval; undefined for forms without one. */
  readonly keepAlive: string | undefined;
  /** Written once after the last frame of an ended log. */
  readonly trailer: string;
}
