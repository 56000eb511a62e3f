import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/cli/args.js';
import { parseOptions } from './options.js';

describe('benchmark options', () => {
  it('defaults to every case, path and concurrency, and writes the docs', () => {
    expect(parseOptions([])).toEqual({
      quick: false,
      docs: true,
      cases: new Set(['latency', 'throughput', 'burst', 'idle', 'local']),
      concurrency: [1, 64, 512],
      latencyConcurrency: [1, 64, 512, 2000],
      paths: new Set(['direct', 'pass-through', 'sluice', 'sluice-openai']),
      pairs: 5,
      cpuProf: undefined,
    });
  });

  it('reads both value forms; any selection leaves the docs alone', () => {
    const options = parseOptions(['--quick', '--cases=latency', '--concurrency', '1', '--cpu-prof=prof']);
    expect(options).toMatchObject({ quick: true, docs: false, concurrency: [1], cpuProf: resolve('prof') });
    expect(options?.cases).toEqual(new Set(['latency']));
    expect(parseOptions(['--paths=sluice'])?.docs).toBe(false);
    expect(parseOptions(['--no-docs'])?.docs).toBe(false);
    expect(options?.pairs).toBe(1);
    expect(parseOptions(['--pairs', '7'])).toMatchObject({ pairs: 7, docs: false });
  });

  it('answers help, and refuses what it does not know', () => {
    expect(parseOptions(['--quick', '-h'])).toBeUndefined();
    expect(parseOptions(['--help'])).toBeUndefined();
    expect(() => parseOptions(['--fast'])).toThrow(UsageError);
    expect(() => parseOptions(['extra'])).toThrow(/unknown argument "extra"/);
    expect(() => parseOptions(['--concurrency=0'])).toThrow(/from 1 to 4000/);
    for (const pairs of ['0', '21', '2.5', 'many']) {
      expect(() => parseOptions([`--pairs=${pairs}`])).toThrow(/--pairs takes an integer from 1 to 20/);
    }
    expect(() => parseOptions(['--cases=latency,speed'])).toThrow(/unknown case "speed"/);
    expect(parseOptions(['--cases=ops'])?.cases).toEqual(new Set(['ops']));
    expect(parseOptions(['--cases=redis,workers'])?.cases).toEqual(new Set(['redis', 'workers']));
  });
});
