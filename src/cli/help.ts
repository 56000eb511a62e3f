/** Every command's help text, in one place so `sluice help` loads no command code. */

const EXIT_CODES = `Exit codes:
  0    success: the stream finished with stop, length or tool_calls (bench: every run did)
  1    the stream failed: an error frame, a finish of error, content_filter or cancelled,
       a stream lost and not resumable, or an answer that is not a Sluice stream
       (bench: at least one run failed)
  2    usage error (unknown option, missing prompt, malformed number or URL)
  3    the gateway is not reachable at the URL
  4    the gateway refused the request (HTTP error before the stream: bad field, unknown
       provider or model, missing key, ...); the message names the field
  130  interrupted (Ctrl-C): the generation was cancelled upstream
`;

export const MAIN_HELP = `Usage: sluice <command> [options]

Commands:
  chat       stream one answer from the gateway to the terminal
  bench      measure time to first token and tokens per second per provider and model
  serve      start the gateway (--demo for emulated providers)
  emulate    start the provider emulators
  tiny-model write a small random GGUF model for the local provider
  help       show this help, or "sluice help <command>" for one command

Options:
  --version  print the version

The gateway URL for chat and bench: --url, else SLUICE_URL, else http://127.0.0.1:8000.
A gateway that needs keys: --api-key, else SLUICE_API_KEY.
An option's value follows it (--port 9000) or an equals sign (--port=9000).

${EXIT_CODES}`;

export const CHAT_HELP = `Usage: sluice chat <prompt | -> [options]

Streams the answer to stdout as it arrives. Reasoning goes to stderr under a
"thinking:" label (dimmed on a terminal), tool calls to stderr as they start, and a
stats line (time to first token, tokens per second, tokens in/out, finish reason)
to stderr at the end. A prompt of "-" is read from stdin.

Options:
  --provider P          openai, anthropic, gemini, together, ollama, local (default: openai)
  --model M             the provider's model (default: the provider's default)
  --system TEXT         a system message before the prompt
  --thinking-budget N   cap reasoning at N tokens (0 turns it off)
  --no-thinking         turn reasoning off (thinking_budget 0)
  --hide-thinking       let the model reason but do not stream its reasoning
  --temperature T       sampling temperature (0 to 2; some providers allow less)
  --max-tokens N        cap the answer at N tokens
  --tools JSON|@FILE    OpenAI-style function tools (a JSON array); calls are shown on stderr
  --json                print every frame as one NDJSON line on stdout
                        ({"id":..,"event":..,"data":{..}}) and nothing else there
  --url URL             the gateway (default: SLUICE_URL or http://127.0.0.1:8000)
  --api-key KEY         the gateway key, when the gateway has keys (default: SLUICE_API_KEY)
  -h, --help            show this help

Ctrl-C stops reading, cancels the generation upstream and exits 130.

${EXIT_CODES}`;

export const BENCH_HELP = `Usage: sluice bench [options]

Streams the same prompt several times per provider and model and reports time to
first token (from the request to the first answer or reasoning text) and tokens per
second (output tokens over the time from the first token to done), both measured by
this client: median, p90 and spread (min-max). A progress bar is drawn on stderr when
it is a terminal; the table goes to stdout.

Options:
  --providers a,b      providers to measure (default: every provider the gateway has configured)
  --models m1,m2       models; a plain name applies to every provider, "provider:model"
                       to one (default: each provider's default model from the gateway)
  --runs N             runs per provider and model (default 5)
  --concurrency N      runs in flight at once (default 1)
  --prompt TEXT        the prompt (default: a short fixed question)
  --max-tokens N       cap each answer at N tokens
  --json               print one JSON document with every figure and sample instead of the table
  --url URL            the gateway (default: SLUICE_URL or http://127.0.0.1:8000)
  --api-key KEY        the gateway key, when the gateway has keys (default: SLUICE_API_KEY)

Providers the gateway serves from its emulators (demo mode) are marked "(emulated)" in the
table and "emulated": true in the JSON: their figures measure the emulator, not the provider.
  -h, --help           show this help

${EXIT_CODES}`;

export const SERVE_HELP = `Usage: sluice serve [--demo] [--port N] [--host H] [--workers N] [--config FILE]

Starts the gateway. Every setting of CONTRACT.md is read from the environment
(PORT, HOST, OPENAI_API_KEY, ..., SLUICE_IDLE_TIMEOUT_MS, REDIS_URL, SLUICE_API_KEYS,
SLUICE_RATE_LIMIT, SLUICE_LOG_LEVEL, ...). A malformed value is refused (exit 2), never
replaced by a default. SLUICE_LOCAL_MODEL=<path.gguf> serves that model as provider local
(needs node-llama-cpp). SLUICE_UPSTREAM_HTTP2 chooses HTTP/2 to upstreams: auto (the
default: negotiated on https upstreams, and on http ones once they advertise h2c), h2c
(prior-knowledge HTTP/2 to every http upstream; the default with --demo) or off (HTTP/1.1
only); Ollama is always called over HTTP/1.1.

Options:
  --demo         serve every provider without a key from the built-in emulators (SLUICE_DEMO=1)
  --port N       listen on port N (default: PORT or 8000)
  --host H       listen on host H (default: HOST or 127.0.0.1)
  --workers N    N processes on one port (default: SLUICE_WORKERS or 1); N > 1 needs REDIS_URL
  --config FILE  a YAML (.yaml, .yml) or JSON (.json) file with gateway keys (each with its
                 own limits), default limits, model aliases and default fallbacks; checked at
                 start (a mistake is named by its path, line and column: exit 2); environment
                 variables win over it. For example, sluice.yaml:
                   keys:
                     - sk-gw-1
                     - key: sk-gw-2
                       name: team-a
                       limits: {rate: 10/s, max_streams: 4, tokens_per_min: 200000}
                   limits: {rate: 60/min, max_streams: 8, tokens_per_min: 100000}
                   aliases:
                     fast: {provider: openai, model: gpt-4o-mini}
                   fallbacks:
                     - {provider: anthropic, model: claude-sonnet-4-5}
                 The same in JSON: {"keys": ["sk-gw-1", {"key": "sk-gw-2", ...}], "limits": {...}}
  -h, --help     show this help

Log lines (JSON: level, time, msg, request_id, ...) go to stdout; the banner and messages
meant for a person go to stderr. GET /metrics (Prometheus), /livez and /readyz are served.
`;

export const EMULATE_HELP = `Usage: sluice emulate [--port N] [--host H] [--ttft MS] [--delay MS] [--chunks N] [--control]

Starts the wire-accurate provider emulators on one port and prints the base URL of each,
ready for OPENAI_BASE_URL, ANTHROPIC_BASE_URL, GEMINI_BASE_URL, TOGETHER_BASE_URL, OLLAMA_BASE_URL.

Options:
  --port N      listen on port N (default 9100)
  --host H      listen on host H (default 127.0.0.1)
  --ttft MS     delay before the first token (default 150)
  --delay MS    delay between chunks (default 25)
  --chunks N    answer length in chunks (default 40)
  --control     also serve the control API below, so a test or benchmark in another
                process can script responses and faults (off by default: the gateway only
                ever calls provider paths, so no gateway client can reach it)
  -h, --help    show this help

Control API (with --control), JSON over HTTP on the same port:
  POST /__control/enqueue   {"provider": "openai", "scenarios": [SCENARIO, ...]}
                            plays the next responses of that provider, in order
  POST /__control/defaults  {"scenario": SCENARIO}: how every unscripted response is played
  POST /__control/reset     forgets scripts and counters
  GET  /__control/stats?provider=openai
                            {"requests", "active", "closedByClient", "http2Requests",
                            "connections", "bodies", "headers"}: counters (requests over
                            HTTP/2, distinct connections used) and the last request bodies
                            and headers
  GET  /__control/connections
                            {"http1", "http2", "open"}: connections accepted by protocol
                            since the last reset, and open now

It speaks HTTP/1.1 and HTTP/2 with prior knowledge (h2c) on the same port, chosen by each
connection's first bytes, and advertises h2c on its HTTP/1.1 responses (Upgrade: h2c): a
gateway on SLUICE_UPSTREAM_HTTP2=auto moves to HTTP/2 after the first one, and with =h2c uses
it from the start.

A SCENARIO (every field optional):
  {"ttftMs": 0, "chunkDelayMs": 0, "chunks": 40, "text": "exact answer",
   "thinkingChunks": 12, "toolCall": true, "finish": "stop|length|tool_calls|content_filter",
   "fault": FAULT}

A FAULT, the failures real providers produce:
  {"type": "http", "status": 429, "retryAfter": "2"}   an HTTP error before the stream
  {"type": "reset", "afterChunks": 3}                  the connection reset mid-stream
                                                       (over HTTP/2: that stream, RST_STREAM)
  {"type": "goaway", "afterChunks": 3}                 over HTTP/2, GOAWAY and the whole
                                                       connection closed; over HTTP/1.1, a reset
  {"type": "stall", "afterChunks": 3}                  the stream goes silent, socket open
  {"type": "malformed", "afterChunks": 3}              bytes that do not parse
  {"type": "midstream_error", "afterChunks": 3, "kind": "overloaded|server_error|capacity"}
  {"type": "no_finish", "afterChunks": 3}              a clean end without a finish reason
  {"type": "content_filter", "afterChunks": 3}         the provider's moderation stop

Example:
  curl -X POST http://127.0.0.1:9100/__control/enqueue \\
    -d '{"provider":"openai","scenarios":[{"fault":{"type":"http","status":503}}]}'
`;

export const TINY_MODEL_HELP = `Usage: sluice tiny-model <path.gguf> [--force]

Writes a small random-weight model (GGUF, llama architecture, about 4 MB, a byte-level
vocabulary and a ChatML chat template) that the local provider loads with node-llama-cpp:

  sluice tiny-model /tmp/tiny.gguf
  SLUICE_LOCAL_MODEL=/tmp/tiny.gguf sluice serve

Its answers are noise, but every token goes through the real runtime (tokenizer, chat
template, sampling, streaming): for demos and tests where no real model can be downloaded.
The file is the same on every machine. Demo mode writes one to the cache folder by itself.

Options:
  --force       replace the file if it exists
  -h, --help    show this help

Exit codes: 0 written, 1 the file could not be written, 2 usage error.
`;
