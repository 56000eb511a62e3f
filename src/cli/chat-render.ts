import type { ChatStream, StreamFrame } from '../client/index.js';
import { writeErr, writeOut } from './common.js';
import type { Styles } from './terminal.js';

/** How `sluice chat` shows frames: plain answer text, or NDJSON. */
export interface Renderer {
  frame(frame: StreamFrame): Promise<void>;
  /** The stream ended (done, abort or failure): close any open line. */
  end(stream: ChatStream): Promise<void>;
}

/** `--json`: one line of JSON per frame on stdout, nothing else there. */
export class JsonRenderer implements Renderer {
  async frame(frame: StreamFrame): Promise<void> {
    await writeOut(`${JSON.stringify({ id: frame.id, event: frame.event, data: frame.data })}\n`);
  }

  async end(): Promise<void> {}
}

/**
 * The answer on stdout, as it arrives and nothing else; reasoning, tool calls, errors and the
 * stats line on stderr, so `sluice chat ... > answer.txt` captures exactly the answer.
 */
export class TextRenderer implements Renderer {
  private inThinking = false;
  private lastAnswerChar = '\n';

  constructor(
    private readonly style: Styles,
    /** stdout and stderr share a terminal: keep stderr notes on their own lines. */
    private readonly sharedTerminal: boolean,
  ) {}

  async frame(frame: StreamFrame): Promise<void> {
    switch (frame.event) {
      case 'thinking':
        this.openThinking();
        writeErr(this.style.dim(frame.data.delta_text));
        return;
      case 'redacted_thinking':
        this.openThinking();
        writeErr(this.style.dim('[redacted reasoning]'));
        return;
      case 'thinking_done':
        this.closeThinking();
        return;
      case 'chunk':
        this.closeThinking();
        if (frame.data.delta_text === '') return;
        this.lastAnswerChar = frame.data.delta_text.slice(-1);
        await writeOut(frame.data.delta_text);
        return;
      case 'tool_call_start':
        await this.note(
          this.style.cyan(`tool call #${frame.data.index}: ${frame.data.name} (${frame.data.id})`),
        );
        return;
      case 'tool_call':
        await this.note(`  ${frame.data.name}(${frame.data.arguments})`);
        return;
      case 'error': {
        const retry = frame.data.retryable ? ' (retryable)' : '';
        await this.note(this.style.red(`error: ${frame.data.code}: ${frame.data.message}${retry}`));
        return;
      }
      case 'cancelled':
        await this.note('the generation was cancelled');
        return;
      case 'fallback': {
        const { from, to, code } = frame.data;
        await this.note(
          this.style.dim(`fallback (${code}): ${from.provider}/${from.model} -> ${to.provider}/${to.model}`),
        );
        return;
      }
      case 'recovered':
        // The answer goes on where it stopped; stdout stays the answer alone.
        return;
      case 'start':
      case 'metadata':
      case 'done':
        return;
      default: {
        const exhaustive: never = frame;
        throw new Error(`unhandled frame ${JSON.stringify(exhaustive)}`);
      }
    }
  }

  async end(stream: ChatStream): Promise<void> {
    this.closeThinking();
    // Text output ends with a newline, whatever the model's last chunk was.
    if (this.lastAnswerChar !== '\n') await writeOut('\n');
    this.lastAnswerChar = '\n';
    if (stream.finishReason !== null) writeErr(`${this.style.dim(statsLine(stream))}\n`);
  }

  private openThinking(): void {
    if (this.inThinking) return;
    this.inThinking = true;
    writeErr(this.style.dim('thinking: '));
  }

  private closeThinking(): void {
    if (!this.inThinking) return;
    this.inThinking = false;
    writeErr('\n');
  }

  /** A line on stderr, after ending the answer's line when both share a terminal. */
  private async note(text: string): Promise<void> {
    this.closeThinking();
    if (this.sharedTerminal && this.lastAnswerChar !== '\n') {
      await writeOut('\n');
      this.lastAnswerChar = '\n';
    }
    writeErr(`${text}\n`);
  }
}

function formatMs(ms: number | null): string {
  if (ms === null) return '-';
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

/** `ttft 152 ms | 38.1 tok/s | tokens in 12, out 40 | finish stop | 1.24 s total`. */
function statsLine(stream: ChatStream): string {
  const stats = stream.stats;
  const usage = stream.usage;
  const speed = stats.tokensPerSecond === null ? '- tok/s' : `${stats.tokensPerSecond.toFixed(1)} tok/s`;
  let tokens = 'tokens -';
  if (usage !== null) {
    const thinking = usage.thinking_tokens ? ` (thinking ${usage.thinking_tokens})` : '';
    const estimated = usage.estimated ? ', estimated' : '';
    tokens = `tokens in ${usage.input_tokens}, out ${usage.output_tokens}${thinking}${estimated}`;
  }
  const parts = [
    `ttft ${formatMs(stats.ttftMs)}`,
    speed,
    tokens,
    `finish ${stream.finishReason ?? '-'}`,
    `${(stats.elapsedMs / 1000).toFixed(2)} s total`,
  ];
  if (stats.reconnects > 0) parts.push(`resumed ${stats.reconnects}x`);
  return parts.join(' | ');
}
