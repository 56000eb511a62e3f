import { HTTP_PROVIDERS } from '../../src/providers/registry.js';
import { type CodecCost, measureCodecCost } from '../codec-cost.js';
import { log } from '../context.js';

export interface CodecCase {
  /** One entry per provider in the registry. */
  costs: CodecCost[];
  /** Measures again and keeps the better of the two passes. */
  again(): void;
}

/**
 * Codec cost, in this process, before anything else runs. One pass now and one after the other
 * cases (minutes apart), the better of each: a burst of other work on the machine cannot spoil both.
 */
export function codecCase(quick: boolean): CodecCase {
  log(`codec cost for ${HTTP_PROVIDERS.length} provider(s)...`);
  const costs = HTTP_PROVIDERS.map((provider) => measureCodecCost(provider, 1000, quick ? 100 : 200));
  const again = (): void => {
    log('codec cost, second pass...');
    for (const [index, provider] of HTTP_PROVIDERS.entries()) {
      const second = measureCodecCost(provider, 1000, quick ? 100 : 200);
      const first = costs[index];
      if (first === undefined || second.error !== undefined) continue;
      costs[index] = {
        ...first,
        codecNs: Math.min(first.codecNs, second.codecNs),
        pipelineNs: Math.min(first.pipelineNs, second.pipelineNs),
      };
    }
  };
  return { costs, again };
}
