import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/gateway.js';
import { chatBody, postStream } from '../helpers/sse.js';
import { type Child, spawnCli } from './processes.js';

let gateway: Child;
beforeAll(async () => {
  gateway = await spawnCli(['serve', '--demo', '--port', '0']);
}, 20_000);
afterAll(() => gateway?.stop());

/** Characters some line splitters (Python's `splitlines`, older JS parsers, log shippers) end a line at. */
const SEPARATORS = ['\u2028', '\u2029', '\u0085'];

describe('JSON log lines', () => {
  it('stay one line whatever a request puts in them', async () => {
    const model = `gpt-4o-mini${SEPARATORS.join('x')}{"forged":true}`;
    const result = await postStream(gateway.url, chatBody('openai', { model }));
    expect(result.status).toBe(200);
    await eventually(() => gateway.output().includes('"msg":"generation ended"'), 5000, 'the log line');
    const output = gateway.output();
    for (const separator of SEPARATORS) expect(output.includes(separator)).toBe(false);
    // Split the way the strictest reader does: every JSON line parses and keeps the model whole.
    const lines = output.split(/\r\n|[\n\r\u2028\u2029\u0085]/).filter((line) => line.startsWith('{'));
    const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(logged.find((line) => line.msg === 'generation ended')?.model).toBe(model);
  });
});
