import { describe, expect, it } from 'vitest';
import { readBodyText } from '../../upstream/transport.js';
import { LocalEngine } from './engine.js';
import { local } from './index.js';

const request = {
  messages: [{ role: 'user' as const, text: 'Hello' }],
  temperature: 0,
  maxTokens: 4,
  thinkingBudget: null,
};

describe('local engine refusals (no model needed)', () => {
  it('with every slot and place in line taken, answers 503 with a body the provider reads as overloaded, retryable', async () => {
    const engine = new LocalEngine({
      modelPath: '/nonexistent/model.gguf',
      modelName: 'model.gguf',
      concurrency: 1,
      maxWaiting: 0,
      threads: 1,
      contextSize: 256,
    });
    const holder = new AbortController();
    const first = engine.open(request, holder.signal);
    expect(first.status).toBe(200);
    expect(engine.busy()).toMatch(/busy: 1 generation\(s\) running and 0 waiting/);
    const refused = engine.open(request, new AbortController().signal);
    // The first one is aborted in the same tick it got its slot: nothing is loaded.
    holder.abort(new Error('test over'));
    expect(refused.status).toBe(503);
    const error = local.mapHttpError(503, await readBodyText(refused.body), {});
    expect(error).toMatchObject({ code: 'overloaded', retryable: true });
    expect(error.message).toMatch(/the local model is busy/);
    await engine.close();
    expect(engine.status()).toMatchObject({ running: 0, waiting: 0, loaded: false });
    const closed = engine.open(request, new AbortController().signal);
    expect(closed.status).toBe(503);
    expect(local.mapHttpError(503, await readBodyText(closed.body), {}).message).toBe(
      'the local model is shutting down',
    );
  });
});
