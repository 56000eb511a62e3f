import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tinyModelGguf } from '../../src/providers/local/tiny-model.js';
import { hasNodeLlamaCpp } from '../helpers/system.js';
import { runCli } from './helpers.js';

const folder = mkdtempSync(join(tmpdir(), 'sluice-tiny-cli-'));

describe('sluice tiny-model', () => {
  it('documents itself, in its own help and in the command list', async () => {
    const help = await runCli(['tiny-model', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: sluice tiny-model <path\.gguf> \[--force\]/);
    expect(help.stdout).toContain('SLUICE_LOCAL_MODEL=');
    expect((await runCli(['--help'])).stdout).toMatch(/tiny-model +write a small random GGUF model/);
  });

  it('writes the model, the same bytes every time, and says how to serve it', async () => {
    const path = join(folder, 'tiny.gguf');
    const written = await runCli(['tiny-model', path]);
    expect(written.code).toBe(0);
    expect(written.stdout).toContain(`wrote ${path}`);
    expect(written.stdout).toContain(`SLUICE_LOCAL_MODEL=${JSON.stringify(path)}`);
    expect(readFileSync(path).equals(tinyModelGguf())).toBe(true);
    expect(statSync(path).size).toBeLessThan(8_000_000);

    const again = await runCli(['tiny-model', path]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('exists; --force replaces it');
    expect((await runCli(['tiny-model', path, '--force'])).code).toBe(0);
  });

  it('refuses a missing or odd path with a usage error', async () => {
    expect((await runCli(['tiny-model'])).code).toBe(2);
    const odd = await runCli(['tiny-model', join(folder, 'model.bin')]);
    expect(odd.code).toBe(2);
    expect(odd.stderr).toContain('should end in .gguf');
  });

  it.runIf(hasNodeLlamaCpp())(
    'writes a file node-llama-cpp loads: llama, byte-level BPE, ChatML template',
    async () => {
      const path = join(folder, 'loaded.gguf');
      expect((await runCli(['tiny-model', path])).code).toBe(0);
      const specifier = 'node-llama-cpp';
      const runtime = await import(specifier);
      const llama = await runtime.getLlama({
        gpu: false,
        build: 'never',
        logLevel: 'error',
        progressLogs: false,
      });
      const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
      try {
        expect(model.architecture).toBe('llama');
        expect(model.vocabularyType).toBe('bpe');
        // Every byte is one token; the ChatML markers are single special tokens.
        expect(model.tokenize('é€', false)).toEqual([0xc3, 0xa9, 0xe2, 0x82, 0xac]);
        expect(model.tokenize('<|im_start|>user', true)).toEqual([257, ...Buffer.from('user')]);
        expect(model.detokenize([0xc3, 0xa9, 0x20, 0x61])).toBe('é a');
        expect(model.isEogToken(258)).toBe(true);
        expect(runtime.resolveChatWrapper(model).wrapperName).toBe('ChatML');
      } finally {
        await model.dispose();
      }
    },
  );
});
