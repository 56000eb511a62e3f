import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config-file.js';
import { type Gateway, startGateway } from '../../src/server/gateway.js';
import { chatBody, postStream } from '../helpers/sse.js';

const folder = mkdtempSync(join(tmpdir(), 'sluice-config-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** The same configuration in each format the gateway reads. */
const FILES: Record<string, string> = {
  'sluice.json': JSON.stringify({
    keys: [{ key: 'sk-gw-file-key-1', name: 'ops-team', limits: { rate: '2/min' } }],
    aliases: { fast: { provider: 'anthropic', model: 'claude-haiku-4-5' } },
    fallbacks: [{ provider: 'gemini' }],
  }),
  'sluice.yaml': `keys:
  - key: sk-gw-file-key-1
    name: ops-team
    limits:
      rate: 2/min
aliases:
  fast:
    provider: anthropic
    model: claude-haiku-4-5
fallbacks:
  - provider: gemini
`,
};

const as = { headers: { authorization: 'Bearer sk-gw-file-key-1' } };

for (const [name, text] of Object.entries(FILES)) {
  describe(`a gateway started with a configuration file (${name})`, () => {
    let gateway: Gateway;
    beforeAll(async () => {
      const file = join(folder, name);
      writeFileSync(file, text);
      gateway = await startGateway({
        env: { SLUICE_DEMO: '1' },
        config: loadConfigFile(file),
        settings: { port: 0, host: '127.0.0.1' },
        webRoot: null,
      });
      gateway.emulator?.setDefaults({ ttftMs: 0, chunkDelayMs: 0, chunks: 4 });
    });
    afterAll(async () => {
      await gateway?.close(200);
    });

    it('serves a model alias with its provider and model, and keeps the default fallbacks', async () => {
      const result = await postStream(gateway.url, chatBody('openai', { model: 'fast' }), as);
      expect(result.status).toBe(200);
      expect(result.frames[0]?.data).toMatchObject({ provider: 'anthropic', model: 'claude-haiku-4-5' });
      expect(gateway.emulator?.stats('anthropic').requests).toBe(1);
      expect(gateway.emulator?.stats('openai').requests).toBe(0);
      expect(gateway.settings.defaultFallbacks).toEqual([{ provider: 'gemini' }]);
    });

    it('needs the keys of the file and applies their own limits', async () => {
      expect((await postStream(gateway.url, chatBody())).status).toBe(401);
      const second = await postStream(gateway.url, chatBody(), as);
      expect(second.status).toBe(200);
      expect(second.headers.get('ratelimit-limit')).toBe('2');
      expect(second.headers.get('ratelimit-remaining')).toBe('0');
      expect((await postStream(gateway.url, chatBody(), as)).status).toBe(429);
    });
  });
}
