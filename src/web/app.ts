// The Sluice chat page: one ES module on top of the browser client, built to dist/web/app.js
// and served at /app.js, where `../client/index.js` is the client the gateway serves from
// dist/client (no bundler). Model and user text only ever reach the DOM as text nodes
// (textContent, createTextNode), never as HTML. Streamed text is queued and appended once per
// animation frame, so a fast stream on a slow machine costs one DOM write per frame, not one
// per token.
import {
  type ChatMessageInput,
  type ChatRequestBody,
  type ChatStream,
  type FinishReason,
  health,
  type ProviderHealth,
  SluiceError,
  SluiceRequestError,
  type StreamFrame,
  streamChat,
  type ToolInput,
} from '../client/index.js';

/** A demo function tool, so the "calling tool" indicator can be seen with any provider. */
const WEATHER_TOOL: ToolInput = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string', description: 'City name' } },
      required: ['city'],
    },
  },
};

const FINISH_WORDS: Partial<Record<FinishReason, string>> = {
  length: 'Cut at the token limit',
  tool_calls: 'Finished with a tool call',
  content_filter: 'Stopped by the provider’s content filter',
  error: 'Ended with an error',
  cancelled: 'Stopped',
};

/** The element with this id, checked to be of the expected kind. */
function byId<Kind extends HTMLElement>(id: string, kind: abstract new () => Kind): Kind;
function byId(id: string): HTMLElement;
function byId(id: string, kind: abstract new () => HTMLElement = HTMLElement): HTMLElement {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`the page has no #${id}`);
  if (!(node instanceof kind)) throw new Error(`#${id} is not a ${kind.name}`);
  return node;
}

const ui = {
  gatewayState: byId('gateway-state'),
  settings: byId('settings', HTMLFormElement),
  provider: byId('provider', HTMLSelectElement),
  model: byId('model', HTMLSelectElement),
  reasoning: byId('reasoning', HTMLSelectElement),
  budgetField: byId('budget-field'),
  budget: byId('budget', HTMLInputElement),
  tool: byId('tool', HTMLInputElement),
  newChat: byId('new-chat', HTMLButtonElement),
  keyForm: byId('key-form', HTMLFormElement),
  apiKey: byId('api-key', HTMLInputElement),
  chat: byId('chat'),
  empty: byId('empty'),
  turns: byId('turns'),
  status: byId('status'),
  tokens: byId('stat-tokens'),
  ttft: byId('stat-ttft'),
  speed: byId('stat-speed'),
  composer: byId('composer', HTMLFormElement),
  prompt: byId('prompt', HTMLTextAreaElement),
  send: byId('send', HTMLButtonElement),
  stop: byId('stop', HTMLButtonElement),
};

/** An element with a class; children are nodes, or strings that become text nodes. */
function element<Tag extends keyof HTMLElementTagNameMap>(
  tag: Tag,
  className: string,
  ...children: (Node | string)[]
): HTMLElementTagNameMap[Tag] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  node.append(...children);
  return node;
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

function setStatus(text: string): void {
  if (ui.status.textContent !== text) ui.status.textContent = text;
}

function clearStats(): void {
  for (const stat of [ui.tokens, ui.ttft, ui.speed]) stat.textContent = '–';
}

// ---------------------------------------------------------------------------------------------
// Rendering, batched per animation frame

const dirtyRuns = new Set<Run>();
let flushScheduled = false;

function flushAll(): void {
  flushScheduled = false;
  const chat = ui.chat;
  // Read layout once, before any write, so a frame costs a single layout pass.
  const stickToBottom = chat.scrollHeight - chat.scrollTop - chat.clientHeight < 48;
  for (const run of dirtyRuns) run.flush();
  dirtyRuns.clear();
  if (stickToBottom) chat.scrollTop = chat.scrollHeight;
}

function scheduleRender(run: Run): void {
  dirtyRuns.add(run);
  if (flushScheduled) return;
  flushScheduled = true;
  // Hidden tabs get no animation frames; a timer keeps the text arriving there too.
  if (document.visibilityState === 'hidden') setTimeout(flushAll, 100);
  else requestAnimationFrame(flushAll);
}

// ---------------------------------------------------------------------------------------------
// One assistant answer: its DOM, its stream, its statistics

class Run {
  readonly meta: HTMLElement;
  readonly answer: HTMLElement;
  readonly cursor: HTMLElement;
  readonly controller = new AbortController();
  stream: ChatStream | undefined;

  private thinkingPanel: HTMLDetailsElement | undefined;
  private thinkingText: HTMLElement | undefined;
  private thinkingSummary: HTMLElement | undefined;
  private userToggledThinking = false;
  private readonly tools = new Map<number, HTMLElement>();
  private notice: HTMLElement | undefined;
  private resumedOnce = false;

  /** Text waiting for the next animation frame. */
  private readonly pendingAnswer: string[] = [];
  private readonly pendingThinking: string[] = [];
  private answerChars = 0;

  stopped = false;
  private failed = false;
  private ended = false;

  /**
   * @param container the assistant bubble
   * @param label provider and model as asked, until the gateway confirms them
   */
  constructor(
    readonly container: HTMLElement,
    label: string,
  ) {
    this.meta = element('p', 'meta', label);
    this.answer = element('div', 'answer');
    this.answer.setAttribute('aria-busy', 'true');
    this.cursor = element('span', 'cursor');
    this.cursor.setAttribute('aria-hidden', 'true');
    this.answer.append(this.cursor);
    container.append(this.meta, this.answer);
  }

  onFrame(frame: StreamFrame): void {
    switch (frame.event) {
      case 'start': {
        const data = frame.data;
        this.meta.textContent = `${data.provider} · ${data.model}${data.emulated ? ' · emulated' : ''}`;
        this.container.dataset.generationId = data.generation_id;
        setStatus('Waiting for the first token…');
        break;
      }
      case 'metadata': {
        const data = frame.data;
        if (data.upstream_model && data.upstream_model !== data.model) {
          this.meta.append(` (${data.upstream_model})`);
        }
        break;
      }
      case 'thinking':
        this.ensureThinking();
        this.pendingThinking.push(frame.data.delta_text);
        setStatus('Thinking…');
        scheduleRender(this);
        break;
      case 'redacted_thinking':
        this.ensureThinking();
        this.pendingThinking.push('[an encrypted reasoning block]\n');
        scheduleRender(this);
        break;
      case 'thinking_done':
        if (this.thinkingPanel !== undefined && !this.userToggledThinking) this.thinkingPanel.open = false;
        break;
      case 'chunk':
        this.pendingAnswer.push(frame.data.delta_text);
        this.answerChars += frame.data.delta_text.length;
        setStatus(this.resumedOnce ? 'Resumed · streaming…' : 'Streaming…');
        scheduleRender(this);
        break;
      case 'tool_call_start': {
        const data = frame.data;
        const line = element('p', 'tool running', 'Calling tool ', element('code', '', data.name), '…');
        this.tools.set(data.index, line);
        this.answer.before(line);
        setStatus(`Calling tool ${data.name}…`);
        break;
      }
      case 'tool_call': {
        const data = frame.data;
        let line = this.tools.get(data.index);
        if (line === undefined) {
          line = element('p', '');
          this.tools.set(data.index, line);
          this.answer.before(line);
        }
        line.className = 'tool';
        line.replaceChildren(
          'Called tool ',
          element('code', '', data.name),
          element('code', 'tool-args', data.arguments),
        );
        break;
      }
      case 'error':
        this.showError(frame.data.code, frame.data.message);
        break;
      case 'cancelled':
        this.stopped = true;
        break;
      case 'fallback': {
        const { to } = frame.data;
        this.meta.append(` → ${to.provider} · ${to.model}`);
        setStatus(`Falling back to ${to.provider}…`);
        break;
      }
      case 'recovered':
        setStatus('Connection to the provider dropped · continuing the answer…');
        break;
      case 'done':
        scheduleRender(this);
        break;
      default: {
        // The client skips frame types newer than itself; a type it learns must be handled here.
        const unhandled: never = frame;
        void unhandled;
      }
    }
  }

  private ensureThinking(): void {
    if (this.thinkingPanel !== undefined) return;
    const summary = element('summary', '', 'Reasoning');
    const text = element('div', 'thinking-text');
    const panel = element('details', 'thinking', summary, text);
    panel.open = true;
    summary.addEventListener('click', () => {
      this.userToggledThinking = true;
    });
    this.meta.after(panel);
    this.thinkingPanel = panel;
    this.thinkingText = text;
    this.thinkingSummary = summary;
  }

  private setNotice(text: string, resumed = false): void {
    if (this.notice === undefined) {
      this.notice = element('p', 'notice');
      this.answer.after(this.notice);
    }
    this.notice.className = resumed ? 'notice resumed' : 'notice';
    this.notice.textContent = text;
  }

  /** The stream's connection dropped; the client resumes it after its backoff (`onReconnect`). */
  reconnecting(): void {
    if (this.stopped || this.ended) return;
    this.setNotice('Connection lost · reconnecting…');
    setStatus('Reconnecting…');
  }

  /** The gateway answered the resume: the stream goes on from where it broke (`onResume`). */
  resumed(): void {
    if (this.stopped || this.ended) return;
    this.resumedOnce = true;
    this.setNotice('Connection lost · resumed, nothing missed', true);
    setStatus('Resumed');
  }

  showError(code: string, message: string, field?: string): void {
    this.failed = true;
    const line = element('p', 'error', element('code', '', code), message);
    if (field) line.append(` (field: ${field})`);
    line.setAttribute('role', 'alert');
    this.answer.after(line);
    setStatus(`Error: ${code}`);
  }

  flush(): void {
    if (this.pendingThinking.length > 0 && this.thinkingText !== undefined) {
      this.thinkingText.append(this.pendingThinking.join(''));
      this.pendingThinking.length = 0;
    }
    if (this.pendingAnswer.length > 0) {
      this.cursor.before(this.pendingAnswer.join(''));
      this.pendingAnswer.length = 0;
    }
    this.renderStats();
  }

  /** Live figures from the client while streaming; the gateway's own once `done` arrived. */
  private renderStats(): void {
    const stream = this.stream;
    if (stream === undefined) return;
    const stats = stream.stats;
    const usage = stream.usage;
    if (usage !== null) {
      const approx = usage.estimated ? '~' : '';
      const reasoning = usage.thinking_tokens ? ` (${usage.thinking_tokens} reasoning)` : '';
      ui.tokens.textContent = `${approx}${usage.output_tokens} out${reasoning} · ${approx}${usage.input_tokens} in`;
    } else {
      ui.tokens.textContent = stats.ttftMs === null ? '–' : `~${stats.outputTokens} out`;
    }
    const ttft = stats.final?.ttft_ms ?? stats.ttftMs;
    ui.ttft.textContent = ttft === null || ttft === undefined ? '–' : formatMs(ttft);
    const speed = stats.tokensPerSecond;
    ui.speed.textContent = speed === null ? '–' : `${stats.final ? '' : '~'}${speed.toFixed(1)} tok/s`;
  }

  /** The stream is over, whichever way it ended. */
  end(): void {
    this.ended = true;
    this.flush();
    dirtyRuns.delete(this);
    this.cursor.remove();
    this.answer.normalize();
    this.answer.removeAttribute('aria-busy');
    for (const line of this.tools.values()) line.classList.remove('running');
    if (this.thinkingSummary !== undefined && this.stream !== undefined) {
      const words = this.stream.thinking.trim().split(/\s+/).length;
      this.thinkingSummary.textContent = `Reasoning (${words} words)`;
    }
    if (this.answerChars === 0 && this.tools.size === 0) {
      if (this.failed) this.answer.hidden = true;
      else
        this.answer.append(
          element('span', 'finish', this.stopped ? '(stopped before any text)' : '(no text)'),
        );
    }
    const reason = this.stopped ? 'cancelled' : (this.stream?.finishReason ?? null);
    // An error already says so in place; every other unusual ending gets a line.
    if (reason !== null && reason !== 'stop' && reason !== 'error') {
      this.container.append(element('p', 'finish', FINISH_WORDS[reason] ?? `Finished: ${reason}`));
    }
    if (this.stopped) setStatus('Stopped');
    else if (!this.failed) setStatus(this.resumedOnce ? 'Done (resumed)' : 'Done');
  }
}

// ---------------------------------------------------------------------------------------------
// The gateway key, when the gateway has keys: asked once, kept in this browser, sent as a header

const KEY_STORAGE = 'sluice.apiKey';

function storedKey(): string | undefined {
  try {
    return localStorage.getItem(KEY_STORAGE) ?? undefined;
  } catch {
    // Storage may be off (private windows, policies): the key then lasts as long as the page.
    return ui.apiKey.value || undefined;
  }
}

let apiKey: string | undefined;
/** Health said the gateway has keys. */
let keyRequired = false;

function askForKey(reason: string): void {
  ui.keyForm.hidden = false;
  ui.gatewayState.textContent = reason;
  ui.apiKey.focus();
}

ui.keyForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const key = ui.apiKey.value.trim();
  if (key === '') return;
  apiKey = key;
  try {
    localStorage.setItem(KEY_STORAGE, key);
  } catch {
    // Kept for this page only.
  }
  ui.apiKey.value = '';
  ui.apiKey.placeholder = 'saved in this browser';
  void loadProviders();
  ui.prompt.focus();
});

// ---------------------------------------------------------------------------------------------
// Providers and models, from the health endpoint

let providers: Record<string, ProviderHealth> = {};

async function loadProviders(): Promise<void> {
  try {
    const info = await health();
    providers = info.providers;
    keyRequired = info.auth === true;
    if (keyRequired) {
      apiKey ??= storedKey();
      ui.keyForm.hidden = false;
      if (apiKey !== undefined) ui.apiKey.placeholder = 'saved in this browser';
    }
    const usable = Object.entries(providers).filter(([, provider]) => provider.configured);
    ui.provider.replaceChildren();
    for (const [id, provider] of usable) {
      const option = element('option', '', provider.emulated ? `${id} (emulated)` : id);
      option.value = id;
      ui.provider.append(option);
    }
    if (usable.length === 0) {
      ui.gatewayState.textContent =
        'No provider is configured: set an API key, or start the gateway with SLUICE_DEMO=1.';
      return;
    }
    ui.provider.disabled = false;
    ui.model.disabled = false;
    fillModels();
    const emulated = usable.filter(([, provider]) => provider.emulated).length;
    const version = typeof info.version === 'string' ? ` ${info.version}` : '';
    ui.gatewayState.textContent =
      `Gateway${version} · ${usable.length} provider${usable.length === 1 ? '' : 's'}` +
      (emulated > 0 ? ` · ${emulated} emulated (demo mode)` : '');
    if (keyRequired && apiKey === undefined) {
      askForKey('This gateway needs a key: enter it above (it stays in this browser).');
    }
  } catch (error) {
    ui.gatewayState.textContent = `The gateway did not answer: ${describe(error).message}`;
    ui.provider.replaceChildren(element('option', '', 'unavailable'));
  }
}

function fillModels(): void {
  const provider = providers[ui.provider.value];
  ui.model.replaceChildren();
  if (provider === undefined) return;
  const models = [...new Set([provider.default_model, ...(provider.models ?? [])])].filter(
    (model): model is string => Boolean(model),
  );
  for (const model of models) {
    const option = element('option', '', model === provider.default_model ? `${model} (default)` : model);
    option.value = model;
    ui.model.append(option);
  }
  if (provider.default_model) ui.model.value = provider.default_model;
}

// ---------------------------------------------------------------------------------------------
// The conversation

/** Completed exchanges, sent again as context with every new prompt. */
let history: ChatMessageInput[] = [];
let current: Run | undefined;

function describe(error: unknown): { code: string; message: string; field?: string | undefined } {
  if (error instanceof SluiceRequestError)
    return { code: error.code, message: error.message, field: error.field };
  if (error instanceof SluiceError) return { code: error.code, message: error.message };
  if (error instanceof Error) return { code: error.name, message: error.message };
  return { code: 'error', message: String(error) };
}

/** The thinking_budget to send; `null` when the input is invalid. */
function thinkingBudget(): number | null | undefined {
  if (ui.reasoning.value === 'off') return 0;
  if (ui.reasoning.value !== 'budget') return undefined;
  const budget = Number(ui.budget.value);
  if (!Number.isInteger(budget) || budget < 1) {
    ui.budget.setCustomValidity('Enter a whole number of tokens, 1 or more.');
    ui.budget.reportValidity();
    return null;
  }
  ui.budget.setCustomValidity('');
  return budget;
}

function setRunning(running: boolean): void {
  ui.send.disabled = running;
  ui.stop.disabled = !running;
  ui.newChat.disabled = running;
}

async function send(text: string): Promise<void> {
  if (current !== undefined || text.trim() === '' || ui.provider.disabled) return;
  if (keyRequired && apiKey === undefined) {
    askForKey('This gateway needs a key: enter it above (it stays in this browser).');
    return;
  }
  const budget = thinkingBudget();
  if (budget === null) return;
  const messages: ChatMessageInput[] = [...history, { role: 'user', content: text }];
  const request: ChatRequestBody = {
    provider: ui.provider.value,
    model: ui.model.value,
    messages,
    include_thinking: true,
  };
  if (budget !== undefined) request.thinking_budget = budget;
  if (ui.tool.checked) request.tools = [WEATHER_TOOL];

  ui.empty.hidden = true;
  const user = element('div', 'bubble user', text);
  user.setAttribute('aria-label', 'You');
  const assistant = element('div', 'bubble assistant');
  assistant.setAttribute('aria-label', 'Assistant');
  ui.turns.append(element('li', 'turn', user, assistant));
  ui.chat.scrollTop = ui.chat.scrollHeight;

  const run = new Run(assistant, `${request.provider} · ${request.model}`);
  current = run;
  ui.prompt.value = '';
  setRunning(true);
  setStatus('Sending…');
  clearStats();
  try {
    const stream = await streamChat(request, {
      apiKey,
      signal: run.controller.signal,
      onReconnect: () => run.reconnecting(),
      onResume: () => run.resumed(),
    });
    run.stream = stream;
    for await (const frame of stream) run.onFrame(frame);
  } catch (error) {
    // A stop surfaces here as the abort it is; anything else is shown where the answer would be.
    if (!run.stopped) {
      const { code, message, field } = describe(error);
      run.showError(code, message, field);
      if (code === 'unauthorized') askForKey('The gateway refused the key: enter another above.');
    }
  } finally {
    run.end();
    current = undefined;
    setRunning(false);
  }
  const answer = run.stream?.text ?? '';
  if (answer !== '') history = [...messages, { role: 'assistant', content: answer }];
}

/** Stop: the client stops reading at once and cancels the generation upstream. */
function stop(): void {
  const run = current;
  if (run === undefined || run.stopped) return;
  run.stopped = true;
  if (run.stream === undefined) run.controller.abort();
  else void run.stream.abort();
  setStatus('Stopped');
  ui.prompt.focus();
}

ui.provider.addEventListener('change', fillModels);
ui.reasoning.addEventListener('change', () => {
  ui.budgetField.hidden = ui.reasoning.value !== 'budget';
});
ui.budget.addEventListener('input', () => ui.budget.setCustomValidity(''));
ui.settings.addEventListener('submit', (event) => event.preventDefault());

ui.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  void send(ui.prompt.value);
});

ui.prompt.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    void send(ui.prompt.value);
  } else if (event.key === 'Escape' && current !== undefined) {
    event.preventDefault();
    stop();
  }
});

ui.stop.addEventListener('click', stop);

ui.newChat.addEventListener('click', () => {
  if (current !== undefined) return;
  history = [];
  ui.turns.replaceChildren();
  ui.empty.hidden = false;
  clearStats();
  setStatus('Idle');
  ui.prompt.focus();
});

await loadProviders();
document.documentElement.dataset.ready = 'true';
