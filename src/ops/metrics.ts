import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { type LoopDelay, monitorLoopDelay } from './loop-delay.js';

/**
 * `GET /metrics` (CONTRACT.md section 10), through prom-client, in a registry of the gateway's
 * own (two gateways in one process do not mix). Everything is counted once per request, per
 * generation when it ends, or per stream when it opens and closes: nothing runs per chunk, and
 * the gauges of running work are read only when scraped.
 *
 * Counting is a number added to a field: prom-client's labelled children validate and hash
 * their labels on every call, and code that runs once per generation runs with cold caches, so
 * the counts wait in plain fields (`Pending`) and are handed to prom-client when it is read (a
 * scrape), a few calls per series however many generations ended in between.
 */

/** How a generation ended, as the metrics count it. */
export interface GenerationOutcome {
  provider: string;
  model: string;
  finishReason: string;
  /** Seconds from the request to the first answer or reasoning text; undefined when none came. */
  ttftSeconds: number | undefined;
  inputTokens: number;
  outputTokens: number;
  /** Upstream attempts made (the last one ended the generation). */
  attempts: number;
  /** The code of the `error` frame, if one ended it. */
  errorCode: string | undefined;
}

export interface MetricsOptions {
  /** The generations running on this instance, read at scrape time. */
  activeGenerations(): number;
  /** Process and Node metrics (`process_resident_memory_bytes`, `nodejs_eventloop_lag_seconds`, ...). */
  defaults?: boolean;
}

/** A count waiting to be added to its prom-client child at the next read. */
class Pending {
  private value = 0;
  /** Counted since the last read, if only a 0 (the series then shows, as when counted at once). */
  private counted = false;
  constructor(private readonly child: Counter.Internal) {}

  add(amount: number): void {
    this.value += amount;
    this.counted = true;
  }

  flush(): void {
    if (!this.counted) return;
    this.child.inc(this.value);
    this.value = 0;
    this.counted = false;
  }
}

/** Observations waiting for their histogram child; bounded, flushed early when full. */
class PendingObservations {
  private readonly values: number[] = [];
  constructor(private readonly child: Histogram.Internal<'provider' | 'model'>) {}

  add(value: number): void {
    this.values.push(value);
    if (this.values.length >= MAX_PENDING_OBSERVATIONS) this.flush();
  }

  flush(): void {
    for (const value of this.values) this.child.observe(value);
    this.values.length = 0;
  }
}

/** The counts of one provider and model. */
interface ModelSeries {
  provider: string;
  model: string;
  ttft: PendingObservations;
  output: Pending;
  input: Pending;
  finish: Map<string, Pending>;
}

/** Observations held between reads, per series: past this they are handed over at once. */
const MAX_PENDING_OBSERVATIONS = 1024;

/** How often the event-loop delay is sampled (`nodejs_eventloop_lag_*`). */
const EVENT_LOOP_SAMPLE_MS = 100;

/** Models a provider may show under their own name; past that, `other` (any model may be asked for). */
const MAX_MODELS_PER_PROVIDER = 64;

const TTFT_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'route' | 'status'>;
  private readonly generations: Counter<'provider' | 'model' | 'finish_reason'>;
  private readonly ttft: Histogram<'provider' | 'model'>;
  private readonly outputTokens: Counter<'provider' | 'model'>;
  private readonly inputTokens: Counter<'provider' | 'model'>;
  private readonly attempts: Counter<'provider' | 'outcome'>;
  private readonly streamErrors: Counter<'provider' | 'code'>;
  private readonly resumes: Counter;
  private readonly cancels: Counter;
  private readonly models = new Map<string, Set<string>>();
  /** Counts per provider and model, so counting a generation hashes no labels. */
  private readonly perModel = new Map<string, ModelSeries>();
  private readonly requestSeries = new Map<string, Pending>();
  private readonly attemptSeries = new Map<string, Pending>();
  /** Every pending count, in the order made: what a read hands over. */
  private readonly pending: { flush(): void }[] = [];
  /** Something was counted since the last read. */
  private dirty = false;
  private openStreams = 0;

  constructor(options: MetricsOptions) {
    const registers = [this.registry];
    // prom-client calls `collect` before it reads a metric: the counts waiting are handed over.
    const collect = (): void => this.flush();
    this.requests = new Counter({
      name: 'sluice_requests_total',
      help: 'HTTP requests answered, by route and status',
      labelNames: ['route', 'status'],
      registers,
      collect,
    });
    this.generations = new Counter({
      name: 'sluice_generations_total',
      help: 'Generations ended, by provider, model and finish reason',
      labelNames: ['provider', 'model', 'finish_reason'],
      registers,
      collect,
    });
    new Gauge({
      name: 'sluice_active_generations',
      help: 'Generations running on this instance',
      registers,
      collect() {
        this.set(options.activeGenerations());
      },
    });
    const openStreams = (): number => this.openStreams;
    new Gauge({
      name: 'sluice_active_streams',
      help: 'Stream responses open on this instance (first readers and resumed ones)',
      registers,
      collect() {
        this.set(openStreams());
      },
    });
    this.ttft = new Histogram({
      name: 'sluice_ttft_seconds',
      help: 'Time from the request to the first answer or reasoning text',
      labelNames: ['provider', 'model'],
      buckets: TTFT_BUCKETS,
      registers,
      collect,
    });
    this.outputTokens = new Counter({
      name: 'sluice_output_tokens_total',
      help: 'Output tokens (answer and reasoning) of ended generations',
      labelNames: ['provider', 'model'],
      registers,
      collect,
    });
    this.inputTokens = new Counter({
      name: 'sluice_input_tokens_total',
      help: 'Input tokens of ended generations',
      labelNames: ['provider', 'model'],
      registers,
      collect,
    });
    this.attempts = new Counter({
      name: 'sluice_upstream_attempts_total',
      help: 'Upstream attempts, by outcome: retried (failed, another followed), ok, error, cancelled',
      labelNames: ['provider', 'outcome'],
      registers,
      collect,
    });
    this.streamErrors = new Counter({
      name: 'sluice_stream_errors_total',
      help: 'Streams ended by an error frame, by its code',
      labelNames: ['provider', 'code'],
      registers,
    });
    this.resumes = new Counter({
      name: 'sluice_resumes_total',
      help: 'Streams resumed by id (GET /api/v1/chat/stream/{id})',
      registers,
    });
    this.cancels = new Counter({
      name: 'sluice_cancels_total',
      help: 'Generations cancelled by id',
      registers,
    });
    if (options.defaults ?? true) {
      // prom-client's monitor feeds only the gauges replaced below: it samples every 10 s.
      collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10_000 });
      this.replaceLoopDelayGauges();
    }
  }

  /**
   * prom-client's `nodejs_eventloop_lag_{min,max,mean,stddev,p50,p90,p99}_seconds` read its delay
   * monitor as is, the sampling interval included: an idle gateway would read 100 ms at every
   * percentile. The same names are served here from the gateway's own monitor, as the delay past
   * the interval (ops/loop-delay.ts); `nodejs_eventloop_lag_seconds` stays prom-client's.
   *
   * The monitor samples every 100 ms, not prom-client's default 10: those 100 wakeups a second
   * cost a gateway about 4 ms of CPU a second, idle or busy (160 vs 90 ms over 20 s idle, on the
   * 2-core machine it was measured on). Every 100 ms still gives 150 samples between two scrapes
   * 15 s apart.
   */
  private replaceLoopDelayGauges(): void {
    const delay = monitorLoopDelay(EVENT_LOOP_SAMPLE_MS);
    const summaries: [string, string, (delay: LoopDelay) => number][] = [
      ['min', 'The minimum recorded event loop delay.', (d) => d.minMs()],
      ['max', 'The maximum recorded event loop delay.', (d) => d.maxMs()],
      ['mean', 'The mean of the recorded event loop delays.', (d) => d.meanMs()],
      ['stddev', 'The standard deviation of the recorded event loop delays.', (d) => d.stddevMs()],
      ['p50', 'The 50th percentile of the recorded event loop delays.', (d) => d.percentileMs(50)],
      ['p90', 'The 90th percentile of the recorded event loop delays.', (d) => d.percentileMs(90)],
      ['p99', 'The 99th percentile of the recorded event loop delays.', (d) => d.percentileMs(99)],
    ];
    const gauges: Gauge[] = [];
    for (const [index, [key, help]] of summaries.entries()) {
      const name = `nodejs_eventloop_lag_${key}_seconds`;
      this.registry.removeSingleMetric(name);
      gauges.push(
        new Gauge({
          name,
          help: `${help} Seconds past the ${EVENT_LOOP_SAMPLE_MS} ms sampling interval.`,
          registers: [this.registry],
          // The first gauge's collect sets them all from one window, then starts the next
          // (a scrape reads the gauges in the order they were registered).
          ...(index === 0
            ? {
                collect: () => {
                  for (const [at, [, , read]] of summaries.entries()) gauges[at]?.set(read(delay) / 1000);
                  delay.reset();
                },
              }
            : {}),
        }),
      );
    }
  }

  /** Content type and body of `GET /metrics`. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** Hands every waiting count to prom-client. */
  private flush(): void {
    if (!this.dirty) return;
    this.dirty = false;
    for (const series of this.pending) series.flush();
  }

  private track<T extends { flush(): void }>(series: T): T {
    this.pending.push(series);
    return series;
  }

  requestAnswered(route: string, status: number): void {
    const key = `${route} ${status}`;
    let series = this.requestSeries.get(key);
    if (series === undefined) {
      // Routes are the gateway's own labels and statuses a few: the map stays small.
      series = this.track(new Pending(this.requests.labels(route, String(status))));
      this.requestSeries.set(key, series);
    }
    series.add(1);
    this.dirty = true;
  }

  /** A stream response opened; the returned function closes it (once). */
  streamOpened(): () => void {
    this.openStreams++;
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      this.openStreams--;
    };
  }

  resumed(): void {
    this.resumes.inc();
  }

  cancelled(): void {
    this.cancels.inc();
  }

  generationEnded(outcome: GenerationOutcome): void {
    const series = this.seriesOf(outcome.provider, this.modelLabel(outcome.provider, outcome.model));
    let finish = series.finish.get(outcome.finishReason);
    if (finish === undefined) {
      finish = this.track(
        new Pending(this.generations.labels(series.provider, series.model, outcome.finishReason)),
      );
      series.finish.set(outcome.finishReason, finish);
    }
    finish.add(1);
    if (outcome.ttftSeconds !== undefined) series.ttft.add(outcome.ttftSeconds);
    series.output.add(outcome.outputTokens);
    series.input.add(outcome.inputTokens);
    if (outcome.attempts > 1) this.attemptsOf(outcome.provider, 'retried').add(outcome.attempts - 1);
    const last =
      outcome.finishReason === 'cancelled' ? 'cancelled' : outcome.finishReason === 'error' ? 'error' : 'ok';
    this.attemptsOf(outcome.provider, last).add(1);
    this.dirty = true;
    if (outcome.errorCode !== undefined) {
      this.streamErrors.inc({ provider: outcome.provider, code: outcome.errorCode });
    }
  }

  private attemptsOf(provider: string, outcome: string): Pending {
    const key = `${provider} ${outcome}`;
    let series = this.attemptSeries.get(key);
    if (series === undefined) {
      series = this.track(new Pending(this.attempts.labels(provider, outcome)));
      this.attemptSeries.set(key, series);
    }
    return series;
  }

  private seriesOf(provider: string, model: string): ModelSeries {
    const key = `${provider}\u0000${model}`;
    let series = this.perModel.get(key);
    if (series === undefined) {
      series = {
        provider,
        model,
        ttft: this.track(new PendingObservations(this.ttft.labels(provider, model))),
        output: this.track(new Pending(this.outputTokens.labels(provider, model))),
        input: this.track(new Pending(this.inputTokens.labels(provider, model))),
        finish: new Map(),
      };
      this.perModel.set(key, series);
    }
    return series;
  }

  /** The model as a label value, bounded per provider: a client can name any model, not grow the series. */
  private modelLabel(provider: string, model: string): string {
    let seen = this.models.get(provider);
    if (seen === undefined) {
      seen = new Set();
      this.models.set(provider, seen);
    }
    if (seen.has(model)) return model;
    if (seen.size >= MAX_MODELS_PER_PROVIDER) return 'other';
    seen.add(model);
    return model;
  }
}
