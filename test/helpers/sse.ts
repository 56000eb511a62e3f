import { createParser } from 'eventsource-parser';

export interface ReceivedFrame {
  id: number;
  event: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary frame fields
  data: any;
}

export interface StreamResult {
  status: number;
  headers: Headers;
  raw: string;
  frames: ReceivedFrame[];
  comments: string[];
  retry: number | undefined;
  /** JSON body for non-stream answers. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
  json: any;
}

/** Parses SSE text with an independent parser (eventsource-parser), keeping `[DONE]` out of frames. */
export function parseSse(
  raw: string,
): Pick<StreamResult, 'frames' | 'comments' | 'retry'> & { doneMarkers: number } {
  const frames: ReceivedFrame[] = [];
  const comments: string[] = [];
  let retry: number | undefined;
  let doneMarkers = 0;
  const parser = createParser({
    onEvent(message) {
      if (message.data === '[DONE]') {
        doneMarkers++;
        return;
      }
      frames.push({
        id: Number(message.id),
        event: message.event ?? 'message',
        data: JSON.parse(message.data),
      });
    },
    onComment(comment) {
      comments.push(comment);
    },
    onRetry(value) {
      retry ??= value;
    },
  });
  parser.feed(raw);
  return { frames, comments, retry, doneMarkers };
}

/** POSTs a chat request and reads the whole response (stream or JSON error). */
export async function postStream(
  baseUrl: string,
  body: unknown,
  options: { path?: string; headers?: Record<string, string>; signal?: AbortSignal; rawBody?: string } = {},
): Promise<StreamResult> {
  const response = await fetch(`${baseUrl}${options.path ?? '/api/v1/chat/stream'}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...options.headers },
    body: options.rawBody ?? JSON.stringify(body),
    signal: options.signal ?? AbortSignal.timeout(20_000),
  });
  return readResponse(response);
}

export async function readResponse(response: Response): Promise<StreamResult> {
  const raw = await response.text();
  const isStream = (response.headers.get('content-type') ?? '').startsWith('text/event-stream');
  const parsed = isStream ? parseSse(raw) : { frames: [], comments: [], retry: undefined };
  return {
    status: response.status,
    headers: response.headers,
    raw,
    frames: parsed.frames,
    comments: parsed.comments,
    retry: parsed.retry,
    json: isStream ? undefined : raw.length > 0 ? JSON.parse(raw) : undefined,
  };
}

/** Asserts the contract's stream invariants and returns a description of what broke, or undefined. */
export function invariantViolation(result: StreamResult): string | undefined {
  const { frames, raw } = result;
  if (frames.length === 0) return 'no frames';
  if (frames[0]?.event !== 'start') return `first frame is ${frames[0]?.event}`;
  for (let index = 0; index < frames.length; index++) {
    if (frames[index]?.id !== index + 1) return `frame ${index} has id ${frames[index]?.id}`;
  }
  const dones = frames.filter((frame) => frame.event === 'done');
  if (dones.length !== 1) return `${dones.length} done frames`;
  if (frames.at(-1)?.event !== 'done') return `last frame is ${frames.at(-1)?.event}`;
  if (!raw.endsWith('data: [DONE]\n\n')) return 'does not end with data: [DONE]';
  if (raw.indexOf('data: [DONE]') !== raw.length - 'data: [DONE]\n\n'.length)
    return '[DONE] is not last or appears twice';
  return undefined;
}

export function textOf(frames: readonly ReceivedFrame[], event = 'chunk'): string {
  return frames
    .filter((frame) => frame.event === event)
    .map((frame) => frame.data.delta_text)
    .join('');
}

export function chatBody(provider = 'openai', extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { provider, messages: [{ role: 'user', content: 'Say hello' }], ...extra };
}

export interface TimedFrame extends ReceivedFrame {
  /** `Date.now()` when the frame arrived here. */
  at: number;
}

/** POSTs a chat request and reads its whole stream, noting when each frame arrived. */
export async function readTimed(
  baseUrl: string,
  body: unknown,
): Promise<{ frames: TimedFrame[]; raw: string }> {
  const response = await fetch(`${baseUrl}/api/v1/chat/stream`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const frames: TimedFrame[] = [];
  let raw = '';
  const parser = createParser({
    onEvent(message) {
      if (message.data === '[DONE]') return;
      frames.push({
        id: Number(message.id),
        event: message.event ?? 'message',
        data: JSON.parse(message.data),
        at: Date.now(),
      });
    },
  });
  const decoder = new TextDecoder();
  for await (const piece of response.body as unknown as AsyncIterable<Uint8Array>) {
    const text = decoder.decode(piece, { stream: true });
    raw += text;
    parser.feed(text);
  }
  return { frames, raw };
}
