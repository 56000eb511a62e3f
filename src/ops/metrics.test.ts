import { describe, expect, it } from 'vitest';
import { GatewayMetrics } from './metrics.js';

const outcome = {
  provider: 'openai',
  model: 'gpt-4o-mini',
  finishReason: 'stop',
  ttftSeconds: 0.2,
  inputTokens: 10,
  outputTokens: 30,
  attempts: 2,
  errorCode: undefined,
};

/** The value of one sample line of the text format. */
function sample(body: string, line: string): number | undefined {
  const found = body.split('\n').find((text) => text.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

describe('GatewayMetrics', () => {
  it('hands the counts held since the last read to prom-client when read, whichever metric is read first', async () => {
    const metrics = new GatewayMetrics({ activeGenerations: () => 0, defaults: false });
    for (let index = 0; index < 3; index++) metrics.generationEnded(outcome);
    metrics.requestAnswered('/api/v1/chat/stream', 200);
    const close = metrics.streamOpened();
    const ttft = await metrics.registry.getSingleMetricAsString('sluice_ttft_seconds');
    expect(sample(ttft, 'sluice_ttft_seconds_count{provider="openai",model="gpt-4o-mini"}')).toBe(3);
    expect(sample(ttft, 'sluice_ttft_seconds_bucket{le="0.25",provider="openai",model="gpt-4o-mini"}')).toBe(
      3,
    );
    const { body } = await metrics.scrape();
    const labels = 'provider="openai",model="gpt-4o-mini"';
    expect(sample(body, `sluice_output_tokens_total{${labels}}`)).toBe(90);
    expect(sample(body, `sluice_input_tokens_total{${labels}}`)).toBe(30);
    expect(sample(body, `sluice_generations_total{${labels},finish_reason="stop"}`)).toBe(3);
    expect(sample(body, 'sluice_upstream_attempts_total{provider="openai",outcome="retried"}')).toBe(3);
    expect(sample(body, 'sluice_upstream_attempts_total{provider="openai",outcome="ok"}')).toBe(3);
    expect(sample(body, 'sluice_requests_total{route="/api/v1/chat/stream",status="200"}')).toBe(1);
    expect(sample(body, 'sluice_active_streams')).toBe(1);
    close();
    close();
    metrics.generationEnded({ ...outcome, attempts: 1 });
    const again = (await metrics.scrape()).body;
    expect(sample(again, `sluice_output_tokens_total{${labels}}`)).toBe(120);
    expect(sample(again, 'sluice_upstream_attempts_total{provider="openai",outcome="retried"}')).toBe(3);
    expect(sample(again, 'sluice_active_streams')).toBe(0);
  });

  it('holds a bounded number of observations between reads', () => {
    const metrics = new GatewayMetrics({ activeGenerations: () => 0, defaults: false });
    // What prom-client holds itself, without the `collect` a read would run first (its internal map).
    const ttft = metrics.registry.getSingleMetric('sluice_ttft_seconds') as unknown as {
      hashMap: Record<string, { count: number }>;
    };
    const handed = (): number => Object.values(ttft.hashMap).reduce((sum, entry) => sum + entry.count, 0);
    for (let index = 0; index < 1023; index++) metrics.generationEnded(outcome);
    expect(handed()).toBe(0);
    metrics.generationEnded(outcome);
    expect(handed()).toBe(1024);
  });
  it('serves the event-loop delay past its sampling interval: an idle gateway reads about 0, not 100 ms', async () => {
    const metrics = new GatewayMetrics({ activeGenerations: () => 0 });
    await new Promise((resolve) => setTimeout(resolve, 450));
    const { body } = await metrics.scrape();
    for (const key of ['min', 'mean', 'p50', 'p90']) {
      const value = sample(body, `nodejs_eventloop_lag_${key}_seconds`);
      expect(value, key).toBeGreaterThanOrEqual(0);
      expect(value, key).toBeLessThan(0.05);
    }
    expect(body).toContain('past the 100 ms sampling interval');
    // One series per name: prom-client's own gauge of that name is gone.
    expect(body.match(/^nodejs_eventloop_lag_p99_seconds /gm)).toHaveLength(1);
    expect(sample(body, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
  });
});
