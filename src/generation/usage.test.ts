import { encode as cl100k } from 'gpt-tokenizer/encoding/cl100k_base';
import { encode as o200k } from 'gpt-tokenizer/encoding/o200k_base';
import { describe, expect, it } from 'vitest';
import { finalizeUsage, TokenCounter } from './usage.js';

/**
 * How far the small estimator (tokenx) lands from real BPE tokenizers, per kind of text. The
 * gateway only estimates where a provider reports no usage, and marks those counts estimated;
 * gpt-tokenizer is a dev dependency here, for this measurement alone.
 */

const ENGLISH = `Rivers meander because water flowing around a bend moves faster on the outside than on the
inside. The faster water erodes the outer bank while the slower water drops sand and gravel on the
inner bank, so each bend grows a little wider every year. Over centuries a gentle curve becomes a
loop, and when a flood cuts across the narrow neck of land the loop is left behind as an oxbow lake.
Engineers who straighten rivers to speed up shipping often find that the river tries to bend again:
the same forces are still at work, and a straight channel is not a stable shape for moving water.
In the valleys of large rivers you can see the whole history of these changes in the patterns of
old channels, abandoned levees and curved lakes that mark where the water used to run.`;

const CODE = `export async function retry<T>(attempt: () => Promise<T>, options: { tries: number; baseMs: number }): Promise<T> {
  let lastError: unknown;
  for (let index = 0; index < options.tries; index++) {
    try {
      return await attempt();
    } catch (error) {
      lastError = error;
      const delay = Math.min(60_000, options.baseMs * 2 ** index) * (0.5 + Math.random() / 2);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
  throw new Error(\`gave up after \${options.tries} tries\`, { cause: lastError });
}

const response = await fetch('https://example.test/v1/items?limit=20', { headers: { accept: 'application/json' } });
if (!response.ok) throw new Error(\`HTTP \${response.status}\`);
const items = (await response.json()) as { id: string; name: string; tags: string[] }[];
console.log(items.filter((item) => item.tags.includes('urgent')).map((item) => item.name).join(', '));`;

const CHINESE = `河流之所以弯曲，是因为水在弯道外侧流得比内侧快。外侧较快的水流侵蚀河岸，而内侧较慢的水流把泥沙沉积下来，
所以每一个弯道每年都会变宽一点。经过几个世纪，一个平缓的弯道会变成一个环形，当洪水冲过狭窄的地峡时，这个环形就会被留下，成为牛轭湖。`;

const JAPANESE = `川が蛇行するのは、曲がり角の外側を流れる水が内側よりも速いからです。外側の速い流れが岸を削り、内側の遅い流れが砂や砂利を積もらせるため、
曲がりは毎年少しずつ大きくなります。何世紀もたつと、ゆるやかな曲がりは輪のようになり、洪水が細い首の部分を切ると三日月湖が残ります。`;

const KOREAN = `강이 굽이쳐 흐르는 이유는 굽은 곳의 바깥쪽 물이 안쪽보다 더 빨리 흐르기 때문입니다. 바깥쪽의 빠른 물은 강둑을 깎아 내고,
안쪽의 느린 물은 모래와 자갈을 쌓아 올리기 때문에 굽은 곳은 해마다 조금씩 넓어집니다.`;

/**
 * The bounds pin what was measured (see the printed figures): close on English and code; on
 * Chinese, Japanese and Korean close to o200k (GPT-4o and later), while cl100k (GPT-4, GPT-3.5)
 * spends a third to a half more tokens on the same text than the estimate says.
 */
const SAMPLES: Record<string, { text: string; cl100k: number; o200k: number }> = {
  english: { text: ENGLISH, cl100k: 0.1, o200k: 0.1 },
  code: { text: CODE, cl100k: 0.15, o200k: 0.15 },
  chinese: { text: CHINESE, cl100k: 0.45, o200k: 0.15 },
  japanese: { text: JAPANESE, cl100k: 0.45, o200k: 0.2 },
  korean: { text: KOREAN, cl100k: 0.6, o200k: 0.25 },
};

describe('token estimates against cl100k_base and o200k_base', () => {
  const rows: string[] = [];
  for (const [name, sample] of Object.entries(SAMPLES)) {
    it(`${name}: within ${sample.cl100k * 100}% of cl100k and ${sample.o200k * 100}% of o200k`, async () => {
      const estimate = await new TokenCounter().count(sample.text);
      const cl = cl100k(sample.text).length;
      const o2 = o200k(sample.text).length;
      const errorCl = (estimate - cl) / cl;
      const errorO2 = (estimate - o2) / o2;
      rows.push(
        `${name}: estimate ${estimate}, cl100k ${cl} (${(errorCl * 100).toFixed(1)}%), ` +
          `o200k ${o2} (${(errorO2 * 100).toFixed(1)}%)`,
      );
      expect(Math.abs(errorCl), `${name} vs cl100k`).toBeLessThanOrEqual(sample.cl100k);
      expect(Math.abs(errorO2), `${name} vs o200k`).toBeLessThanOrEqual(sample.o200k);
    });
  }
  it('prints the figures', () => {
    // Kept in the test output: the README quotes them.
    console.log(`token estimates:\n  ${rows.join('\n  ')}`);
    expect(rows).toHaveLength(Object.keys(SAMPLES).length);
  });
});

describe('finalizeUsage', () => {
  it('keeps reported counts exact and estimates only what is missing', async () => {
    const messages = [{ role: 'user' as const, content: ENGLISH }];
    const exact = await finalizeUsage({ inputTokens: 10, outputTokens: 20 }, messages, () => {
      throw new Error('the output text is not joined when the provider counted it');
    });
    expect(exact).toEqual({
      input_tokens: 10,
      output_tokens: 20,
      thinking_tokens: null,
      total_tokens: 30,
      estimated: false,
    });
    const estimated = await finalizeUsage({ inputTokens: 10 }, messages, () => ENGLISH);
    expect(estimated.estimated).toBe(true);
    expect(estimated.input_tokens).toBe(10);
    expect(Math.abs(estimated.output_tokens - cl100k(ENGLISH).length)).toBeLessThan(
      cl100k(ENGLISH).length * 0.1,
    );
  });

  it('counts a megabyte without whitespace in bounded time', async () => {
    const started = performance.now();
    const tokens = await new TokenCounter().count('a'.repeat(1_000_000));
    expect(tokens).toBeGreaterThan(100_000);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
