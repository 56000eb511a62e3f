import { describe, expect, it } from 'vitest';
import { type ModelCatalog, modelObjects, resolveModelName } from './models.js';

const catalog: ModelCatalog = [
  { id: 'openai', defaultModel: 'gpt-4o-mini', models: ['gpt-4o-mini', 'gpt-4o'], configured: true },
  {
    id: 'anthropic',
    defaultModel: 'claude-sonnet-4-5',
    models: ['claude-sonnet-4-5', 'claude-haiku-4-5'],
    configured: false,
  },
  {
    id: 'together',
    defaultModel: 'meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8',
    models: ['meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8'],
    configured: true,
  },
  { id: 'ollama', defaultModel: 'llama3.2', models: ['llama3.2', 'qwen3'], configured: true },
];

describe('model names (CONTRACT.md section 9)', () => {
  it.each([
    ['anthropic/claude-sonnet-4-5', { provider: 'anthropic', model: 'claude-sonnet-4-5' }],
    [
      'together/meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8',
      { provider: 'together', model: 'meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8' },
    ],
    ['ollama/hf.co/org/model:Q4', { provider: 'ollama', model: 'hf.co/org/model:Q4' }],
    ['anthropic', { provider: 'anthropic', model: undefined }],
    ['gpt-4o', { provider: 'openai', model: 'gpt-4o' }],
    ['o3', { provider: 'openai', model: 'o3' }],
    ['claude-haiku-4-5', { provider: 'anthropic', model: 'claude-haiku-4-5' }],
    ['qwen3', { provider: 'ollama', model: 'qwen3' }],
    [
      'meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8',
      { provider: 'together', model: 'meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8' },
    ],
    // Provider ids are exact: a prefix in another case is not one.
    ['OpenAI/gpt-4o', undefined],
    ['acme/model', undefined],
    ['openai/', undefined],
    ['/gpt-4o', undefined],
    ['', undefined],
  ])('%j', (name, expected) => {
    expect(resolveModelName(name, catalog)).toEqual(expected);
  });

  it('lists the configured providers only, default model first, each once', () => {
    const ids = modelObjects(catalog, 1).map((model) => model.id);
    expect(ids).toEqual([
      'openai/gpt-4o-mini',
      'openai/gpt-4o',
      'together/meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8',
      'ollama/llama3.2',
      'ollama/qwen3',
    ]);
  });
});
