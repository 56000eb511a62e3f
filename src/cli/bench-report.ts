/** The figures of `sluice bench`: per-run samples, their summaries, the table and the JSON. */

/** One successful run. */
export interface Sample {
  /** From the request to the first answer or reasoning text, as this client saw it. */
  ttftMs: number;
  /** Output tokens over the time from the first token to `done`; `null` when that time is zero. */
  tokensPerSecond: number | null;
  outputTokens: number;
  durationMs: number;
  finishReason: string;
}

/** One provider and model: its samples and the reasons of the runs that failed. */
export interface Target {
  provider: string;
  model: string | undefined;
  samples: Sample[];
  failures: string[];
  /** Runs not attempted (the gateway refused the target; more runs would be refused too). */
  skipped: number;
  /** The gateway serves this provider from its emulator: the figures do not measure the provider. */
  emulated: boolean;
}

interface Summary {
  median: number;
  p90: number;
  min: number;
  max: number;
}

/** Median (mean of the middle two for an even count), nearest-rank p90, and the range. */
export function summarize(values: readonly number[]): Summary | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median =
    sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
  const p90 = sorted[Math.max(0, Math.ceil(0.9 * sorted.length) - 1)] ?? 0;
  return { median, p90, min: sorted[0] ?? 0, max: sorted.at(-1) ?? 0 };
}

function speeds(target: Target): number[] {
  return target.samples.flatMap((sample) =>
    sample.tokensPerSecond === null ? [] : [sample.tokensPerSecond],
  );
}

function round(summary: Summary | null, digits: number): Summary | null {
  if (summary === null) return null;
  const factor = 10 ** digits;
  const fix = (value: number): number => Math.round(value * factor) / factor;
  return { median: fix(summary.median), p90: fix(summary.p90), min: fix(summary.min), max: fix(summary.max) };
}

/** The `--json` document. */
export function benchJson(
  targets: readonly Target[],
  setup: { url: string; prompt: string; runs: number; concurrency: number },
): unknown {
  return {
    ...setup,
    results: targets.map((target) => ({
      provider: target.provider,
      model: target.model ?? null,
      emulated: target.emulated,
      ok: target.samples.length,
      failed: target.failures.length,
      skipped: target.skipped,
      ttft_ms: round(summarize(target.samples.map((sample) => sample.ttftMs)), 1),
      tokens_per_second: round(summarize(speeds(target)), 1),
      errors: target.failures,
      samples: target.samples.map((sample) => ({
        ttft_ms: Math.round(sample.ttftMs * 10) / 10,
        tokens_per_second:
          sample.tokensPerSecond === null ? null : Math.round(sample.tokensPerSecond * 10) / 10,
        output_tokens: sample.outputTokens,
        duration_ms: Math.round(sample.durationMs),
        finish_reason: sample.finishReason,
      })),
    })),
  };
}

const num = (value: number, digits: number): string => value.toFixed(digits);

function cells(summary: Summary | null, digits: number): string[] {
  if (summary === null) return ['-', '-', '-'];
  return [
    num(summary.median, digits),
    num(summary.p90, digits),
    `${num(summary.min, digits)}-${num(summary.max, digits)}`,
  ];
}

/** The table printed at the end, then one line per failure reason. */
export function benchTable(targets: readonly Target[], runs: number): string {
  const header = [
    'provider',
    'model',
    'ok',
    'ttft ms p50',
    'ttft ms p90',
    'ttft ms min-max',
    'tok/s p50',
    'tok/s p90',
    'tok/s min-max',
    'served by',
  ];
  const rows = targets.map((target) => [
    target.provider,
    target.model ?? '(default)',
    `${target.samples.length}/${runs}`,
    ...cells(summarize(target.samples.map((sample) => sample.ttftMs)), 0),
    ...cells(summarize(speeds(target)), 1),
    target.emulated ? 'emulator' : 'provider',
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  // Names align left, numbers right.
  const last = header.length - 1;
  const line = (row: readonly string[]): string =>
    row
      .map((cell, column) =>
        column < 2 || column === last ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0),
      )
      .join('  ')
      .trimEnd();
  const out = [line(header), ...rows.map(line)];
  for (const target of targets) {
    const counts = new Map<string, number>();
    for (const failure of target.failures) counts.set(failure, (counts.get(failure) ?? 0) + 1);
    for (const [reason, count] of counts) {
      out.push(`${target.provider}/${target.model ?? '(default)'}: ${count} failed: ${reason}`);
    }
    if (target.skipped > 0)
      out.push(`${target.provider}/${target.model ?? '(default)'}: ${target.skipped} skipped`);
  }
  return `${out.join('\n')}\n`;
}
