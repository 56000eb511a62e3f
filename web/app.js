// The Sluice chat page: one ES module on top of the browser client (/client/index.js, built
// from src/client). Model and user text only ever reach the DOM as text nodes (textContent,
// createTextNode), never as HTML. Streamed text is queued and appended once per animation
// frame, so a fast stream on a slow machine costs one DOM write per frame, not one per token.
import { health, SluiceError, SluiceRequestError, streamChat } from '/client/index.js';

/** A demo function tool, so the "calling tool" indicator can be seen with any provider. */
const WEATHER_TOOL = {
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

const FINISH_WORDS = {
  length: 'Cut at the token limit',
  tool_calls: 'Finished with a tool call',
  content_filter: 'Stopped by the provider’s content filter',
  error: 'Ended with an error',
  cancelled: 'Stopped',
};

/** @param {string} id */
function byId(id) {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`the page has no #${id}`);
  return node;
}

const ui = {
  gatewayState: byId('gateway-state'),
  settings: /** @type {HTMLFormElement} */ (byId('settings')),
  provider: /** @type {HTMLSelectElement} */ (byId('provider')),
  model: /** @type {HTMLSelectElement} */ (byId('model')),
  reasoning: /** @type {HTMLSelectElement} */ (byId('reasoning')),
  budgetField: byId('budget-field'),
  budget: /** @type {HTMLInputElement} */ (byId('budget')),
  tool: /** @type {HTMLInputElement} */ (byId('tool')),
  newChat: /** @type {HTMLButtonElement} */ (byId('new-chat')),
  chat: byId('chat'),
  empty: byId('empty'),
  turns: byId('turns'),
  status: byId('status'),
  tokens: byId('stat-tokens'),
  ttft: byId('stat-ttft'),
  speed: byId('stat-speed'),
  composer: /** @type {HTMLFormElement} */ (byId('composer')),
  prompt: /** @type {HTMLTextAreaElement} */ (byId('prompt')),
  send: /** @type {HTMLButtonElement} */ (byId('send')),
  stop: /** @type {HTMLButtonElement} */ (byId('stop')),
};

/**
 * An element with a class; children are nodes, or strings that become text nodes.
 * @param {string} tag
 * @param {string} className
 * @param {...(Node | string)} children
 */
function element(tag, className, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  node.append(...children);
  return node;
}

/** @param {number} ms */
function formatMs(ms) {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** @param {string} text */
function setStatus(text) {
  if (ui.status.textContent !== text) ui.status.textContent = text;
}

function clearStats() {
  for (const stat of [ui.tokens, ui.ttft, ui.speed]) stat.textContent = '–';
}

// ---------------------------------------------------------------------------------------------
// Rendering, batched per animation frame

/** @type {Set<Run>} */
const dirtyRuns = new Set();
let flushScheduled = false;

function flushAll() {
  flushScheduled = false;
  const chat = ui.chat;
  // Read layout once, before any write, so a frame costs a single layout pass.
  const stickToBottom = chat.scrollHeight - chat.scrollTop - chat.clientHeight < 48;
  for (const run of dirtyRuns) run.flush();
  dirtyRuns.clear();
  if (stickToBottom) chat.scrollTop = chat.scrollHeight;
}

/** @param {Run} run */
function scheduleRender(run) {
  dirtyRuns.add(run);
  if (flushScheduled) return;
  flushScheduled = true;
  // Hidden tabs get no animation frames; a timer keeps the text arriving there too.
  if (document.visibilityState === 'hidden') setTimeout(flushAll, 100);
  else requestAnimationFrame(flushAll);
}

// ---------------------------------------------------------------------------------------------
// Connection watching: the client resumes a dropped stream on its own; the page only says so.

/**
 * A `fetch` for the client that tells `run` when a stream connection drops (its body fails)
 * and when the client re-attaches with Last-Event-ID (`GET /api/v1/chat/stream/{id}`).
 * @param {Run} run
 * @returns {typeof fetch}
 */
function watchedFetch(run) {
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input), window.location.href);
    const resuming =
      (init?.method ?? 'GET') === 'GET' &&
      /^\/api\/v1\/chat\/stream\/[^/]+$/.test(url.pathname) &&
      !url.pathname.endsWith('/health');
    if (resuming) run.reconnecting();
    const response = await fetch(input, init);
    const streaming = (response.headers.get('content-type') ?? '').startsWith('text/event-stream');
    if (!streaming || response.body === null) return response;
    if (resuming) run.resumed();
    return new Response(
      watchBody(response.body, () => run.connectionLost()),
      {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      },
    );
  };
}

/**
 * The same bytes, calling `onFailure` when the network fails mid-body (not on a clean end,
 * and not when the reader cancels it).
 * @param {ReadableStream<Uint8Array>} body
 * @param {() => void} onFailure
 */
function watchBody(body, onFailure) {
  const reader = body.getReader();
  return new ReadableStream({
    async pull(controller) {
      let chunk;
      try {
        chunk = await reader.read();
      } catch (error) {
        onFailure();
        controller.error(error);
        return;
      }
      if (chunk.done) controller.close();
      else controller.enqueue(chunk.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

// ---------------------------------------------------------------------------------------------
// One assistant answer: its DOM, its stream, its statistics

class Run {
  /**
   * @param {HTMLElement} container the assistant bubble
   * @param {string} label provider and model as asked, until the gateway confirms them
   */
  constructor(container, label) {
    this.container = container;
    this.meta = element('p', 'meta', label);
    this.answer = element('div', 'answer');
    this.answer.setAttribute('aria-busy', 'true');
    this.cursor = element('span', 'cursor');
    this.cursor.setAttribute('aria-hidden', 'true');
    this.answer.append(this.cursor);
    container.append(this.meta, this.answer);

    this.controller = new AbortController();
    /** @type {import('/client/index.js').ChatStream | undefined} */
    this.stream = undefined;

    /** @type {HTMLDetailsElement | undefined} */
    this.thinkingPanel = undefined;
    /** @type {HTMLElement | undefined} */
    this.thinkingText = undefined;
    /** @type {HTMLElement | undefined} */
    this.thinkingSummary = undefined;
    this.userToggledThinking = false;
    /** @type {Map<number, HTMLElement>} */
    this.tools = new Map();
    /** @type {HTMLElement | undefined} */
    this.notice = undefined;
    this.resumedOnce = false;

    /** @type {string[]} text waiting for the next animation frame */
    this.pendingAnswer = [];
    /** @type {string[]} */
    this.pendingThinking = [];
    this.answerChars = 0;

    this.stopped = false;
    this.failed = false;
    this.ended = false;
  }

  /** @param {import('/client/index.js').StreamFrame} frame */
  onFrame(frame) {
    const data = frame.data;
    switch (frame.event) {
      case 'start':
        this.meta.textContent = `${data.provider} · ${data.model}${data.emulated ? ' · emulated' : ''}`;
        this.container.dataset.generationId = data.generation_id;
        setStatus('Waiting for the first token…');
        break;
      case 'metadata':
        if (data.upstream_model && data.upstream_model !== data.model) {
          this.meta.append(` (${data.upstream_model})`);
        }
        break;
      case 'thinking':
        this.ensureThinking();
        this.pendingThinking.push(data.delta_text);
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
        this.pendingAnswer.push(data.delta_text);
        this.answerChars += data.delta_text.length;
        setStatus(this.resumedOnce ? 'Resumed · streaming…' : 'Streaming…');
        scheduleRender(this);
        break;
      case 'tool_call_start': {
        const line = element('p', 'tool running', 'Calling tool ', element('code', '', data.name), '…');
        this.tools.set(data.index, line);
        this.answer.before(line);
        setStatus(`Calling tool ${data.name}…`);
        break;
      }
      case 'tool_call': {
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
        this.showError(data.code, data.message);
        break;
      case 'cancelled':
        this.stopped = true;
        break;
      case 'done':
        scheduleRender(this);
        break;
      default:
        // Frame types added to the contract later are ignored, as the contract allows.
        break;
    }
  }

  ensureThinking() {
    if (this.thinkingPanel !== undefined) return;
    const summary = element('summary', '', 'Reasoning');
    const text = element('div', 'thinking-text');
    const panel = /** @type {HTMLDetailsElement} */ (element('details', 'thinking', summary, text));
    panel.open = true;
    summary.addEventListener('click', () => {
      this.userToggledThinking = true;
    });
    this.meta.after(panel);
    this.thinkingPanel = panel;
    this.thinkingText = text;
    this.thinkingSummary = summary;
  }

  /** @param {string} text */
  setNotice(text, resumed = false) {
    if (this.notice === undefined) {
      this.notice = element('p', 'notice');
      this.answer.after(this.notice);
    }
    this.notice.className = resumed ? 'notice resumed' : 'notice';
    this.notice.textContent = text;
  }

  /** The stream's connection failed; the client will resume it after its backoff. */
  connectionLost() {
    if (this.stopped || this.ended) return;
    this.setNotice('Connection lost · reconnecting…');
    setStatus('Reconnecting…');
  }

  /** The client is asking the gateway for the frames after the last one it has. */
  reconnecting() {
    if (this.stopped || this.ended) return;
    this.setNotice('Connection lost · reconnecting…');
    setStatus('Reconnecting…');
  }

  /** The gateway answered the resume: the stream goes on from where it broke. */
  resumed() {
    if (this.stopped || this.ended) return;
    this.resumedOnce = true;
    this.setNotice('Connection lost · resumed, nothing missed', true);
    setStatus('Resumed');
  }

  /**
   * @param {string} code
   * @param {string} message
   * @param {string} [field]
   */
  showError(code, message, field) {
    this.failed = true;
    const line = element('p', 'error', element('code', '', code), message);
    if (field) line.append(` (field: ${field})`);
    line.setAttribute('role', 'alert');
    this.answer.after(line);
    setStatus(`Error: ${code}`);
  }

  flush() {
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
  renderStats() {
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
  end() {
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
// Providers and models, from the health endpoint

/** @type {Record<string, import('/client/index.js').ProviderHealth>} */
let providers = {};

async function loadProviders() {
  try {
    const info = await health();
    providers = info.providers;
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
  } catch (error) {
    ui.gatewayState.textContent = `The gateway did not answer: ${describe(error).message}`;
    ui.provider.replaceChildren(element('option', '', 'unavailable'));
  }
}

function fillModels() {
  const provider = providers[ui.provider.value];
  ui.model.replaceChildren();
  if (provider === undefined) return;
  const models = [...new Set([provider.default_model, ...(provider.models ?? [])])].filter(Boolean);
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
/** @type {{role: 'user' | 'assistant', content: string}[]} */
let history = [];
/** @type {Run | undefined} */
let current;

/** @param {unknown} error */
function describe(error) {
  if (error instanceof SluiceRequestError)
    return { code: error.code, message: error.message, field: error.field };
  if (error instanceof SluiceError) return { code: error.code, message: error.message };
  if (error instanceof Error) return { code: error.name, message: error.message };
  return { code: 'error', message: String(error) };
}

/** @returns {number | null | undefined} the thinking_budget to send; null when the input is invalid */
function thinkingBudget() {
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

/** @param {boolean} running */
function setRunning(running) {
  ui.send.disabled = running;
  ui.stop.disabled = !running;
  ui.newChat.disabled = running;
}

/** @param {string} text */
async function send(text) {
  if (current !== undefined || text.trim() === '' || ui.provider.disabled) return;
  const budget = thinkingBudget();
  if (budget === null) return;
  const messages = [...history, { role: 'user', content: text }];
  /** @type {import('/client/index.js').ChatRequestBody} */
  const request = { provider: ui.provider.value, model: ui.model.value, messages, include_thinking: true };
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
    const stream = await streamChat(request, { signal: run.controller.signal, fetch: watchedFetch(run) });
    run.stream = stream;
    for await (const frame of stream) run.onFrame(frame);
  } catch (error) {
    // A stop surfaces here as the abort it is; anything else is shown where the answer would be.
    if (!run.stopped) {
      const { code, message, field } = describe(error);
      run.showError(code, message, field);
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
function stop() {
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
