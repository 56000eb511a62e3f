import { readFileSync } from 'node:fs';
import {
  type ChatMessageInput,
  type ChatRequestBody,
  type ChatStream,
  streamChat,
  type ToolInput,
} from '../client/index.js';
import { flag, numberOption, type OptionSpec, parseArgs, stringOption, UsageError } from './args.js';
import { JsonRenderer, type Renderer, TextRenderer } from './chat-render.js';
import {
  apiKeyOption,
  DEFAULT_URL,
  describeFailure,
  EXIT,
  gatewayUrl,
  onInterrupt,
  writeErr,
} from './common.js';
import { colorEnabled, styles } from './terminal.js';

const SPEC: OptionSpec = {
  provider: 'string',
  model: 'string',
  system: 'string',
  'thinking-budget': 'string',
  'no-thinking': 'boolean',
  'hide-thinking': 'boolean',
  temperature: 'string',
  'max-tokens': 'string',
  tools: 'string',
  json: 'boolean',
  url: 'string',
  'api-key': 'string',
};

const USAGE_HINT = 'Run "sluice chat --help" for usage.';

interface ChatInvocation {
  url: string;
  json: boolean;
  /** The prompt, or `undefined` when it comes from stdin (`-`). */
  prompt: string | undefined;
  system: string | undefined;
  apiKey: string | undefined;
  request: Omit<ChatRequestBody, 'messages'>;
}

function parseInvocation(argv: readonly string[]): ChatInvocation {
  const args = parseArgs(argv, SPEC);
  if (args.positionals.length === 0)
    throw new UsageError('a prompt is required (or "-" to read it from stdin)');
  const fromStdin = args.positionals.length === 1 && args.positionals[0] === '-';
  const budget = numberOption(args, 'thinking-budget', { integer: true, min: 0 });
  if (budget !== undefined && flag(args, 'no-thinking')) {
    throw new UsageError('--thinking-budget and --no-thinking cannot be used together');
  }
  const request: Omit<ChatRequestBody, 'messages'> = {
    provider: stringOption(args, 'provider') ?? 'openai',
    model: stringOption(args, 'model'),
    temperature: numberOption(args, 'temperature'),
    max_tokens: numberOption(args, 'max-tokens', { integer: true, min: 1 }),
    thinking_budget: flag(args, 'no-thinking') ? 0 : budget,
  };
  if (flag(args, 'hide-thinking')) request.include_thinking = false;
  const tools = stringOption(args, 'tools');
  if (tools !== undefined) request.tools = parseTools(tools);
  return {
    url: gatewayUrl(stringOption(args, 'url')),
    json: flag(args, 'json'),
    prompt: fromStdin ? undefined : args.positionals.join(' '),
    system: stringOption(args, 'system'),
    apiKey: apiKeyOption(stringOption(args, 'api-key')),
    request,
  };
}

/** `--tools`: a JSON array of OpenAI-style function tools, inline or `@file`. */
function parseTools(value: string): ToolInput[] {
  let text = value;
  if (value.startsWith('@')) {
    try {
      text = readFileSync(value.slice(1), 'utf8');
    } catch {
      throw new UsageError(`--tools: cannot read ${value.slice(1)}`);
    }
  }
  let tools: unknown;
  try {
    tools = JSON.parse(text);
  } catch {
    throw new UsageError('--tools must be a JSON array of tools (or @file holding one)');
  }
  // Only the shape a usage error can name; the gateway checks each tool and names the field.
  if (!Array.isArray(tools)) throw new UsageError('--tools must be a JSON array of tools');
  return tools as ToolInput[];
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) writeErr('reading the prompt from stdin; end it with Ctrl-D\n');
  const pieces: Buffer[] = [];
  for await (const piece of process.stdin as AsyncIterable<Buffer>) pieces.push(piece);
  return Buffer.concat(pieces).toString('utf8').trimEnd();
}

function exitCodeFor(stream: ChatStream): number {
  switch (stream.finishReason) {
    case 'stop':
    case 'length':
    case 'tool_calls':
      return EXIT.ok;
    default:
      // error, content_filter, cancelled by someone else, or no `done` at all.
      return EXIT.streamFailed;
  }
}

/** `sluice chat`: streams one answer. Returns the exit code. */
export async function chat(argv: readonly string[]): Promise<number> {
  let url = process.env.SLUICE_URL || DEFAULT_URL;
  try {
    const invocation = parseInvocation(argv);
    url = invocation.url;
    const prompt = invocation.prompt ?? (await readStdin());
    if (prompt.trim() === '') throw new UsageError('the prompt is empty');
    const messages: ChatMessageInput[] = [];
    if (invocation.system !== undefined) messages.push({ role: 'system', content: invocation.system });
    messages.push({ role: 'user', content: prompt });
    const renderer = invocation.json
      ? new JsonRenderer()
      : new TextRenderer(styles(colorEnabled()), Boolean(process.stdout.isTTY && process.stderr.isTTY));
    return await run(url, invocation.apiKey, { ...invocation.request, messages }, renderer);
  } catch (error) {
    const failure = describeFailure(error, url, USAGE_HINT);
    writeErr(`sluice chat: ${failure.message}\n`);
    return failure.code;
  }
}

async function run(
  url: string,
  apiKey: string | undefined,
  request: ChatRequestBody,
  renderer: Renderer,
): Promise<number> {
  // Ctrl-C and a closed stdout both abort through this one signal: the stream stops reading
  // and cancels the generation upstream; streamChat does the same if it has not resolved yet.
  const controller = new AbortController();
  let outputClosed = false;
  const onOutputError = (): void => {
    outputClosed = true;
    controller.abort();
  };
  process.stdout.on('error', onOutputError);
  const removeInterrupt = onInterrupt(() => controller.abort());
  try {
    let stream: ChatStream;
    try {
      stream = await streamChat(request, { baseUrl: url, signal: controller.signal, apiKey });
    } catch (error) {
      if (controller.signal.aborted) return interrupted(outputClosed, false);
      throw error;
    }
    try {
      for await (const frame of stream) await renderer.frame(frame);
    } catch (error) {
      // Lost mid-stream (not resumable): what was shown is all there is.
      await renderer.end(stream);
      const message = error instanceof Error ? error.message : String(error);
      writeErr(`sluice chat: stream failed: ${message}\n`);
      return EXIT.streamFailed;
    }
    if (stream.aborted) {
      const cancelled = await stream.abort();
      await renderer.end(stream);
      return interrupted(outputClosed, cancelled);
    }
    await renderer.end(stream);
    return exitCodeFor(stream);
  } finally {
    removeInterrupt();
    process.stdout.off('error', onOutputError);
  }
}

function interrupted(outputClosed: boolean, cancelled: boolean): number {
  // Nobody reads the answer any more (`| head`): not a failure, and nothing to say.
  if (outputClosed) return EXIT.ok;
  writeErr(cancelled ? 'interrupted: the generation was cancelled\n' : 'interrupted\n');
  return EXIT.interrupted;
}
