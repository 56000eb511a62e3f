import { describe, expect, it } from 'vitest';
import { listOption, numberOption, parseArgs, UsageError } from '../../src/cli/args.js';

const spec = { model: 'string', json: 'boolean', runs: 'string', models: 'string' } as const;

describe('CLI argument parsing', () => {
  it('reads values, flags, "=" forms, "-" and "--"', () => {
    const args = parseArgs(['hello', '--model', 'gpt-4o', '--json', '--runs=3', '-', '--', '--json'], spec);
    expect(args.options.get('model')).toBe('gpt-4o');
    expect(args.options.get('json')).toBe(true);
    expect(numberOption(args, 'runs', { integer: true, min: 1 })).toBe(3);
    expect(args.positionals).toEqual(['hello', '-', '--json']);
  });

  it('refuses unknown options, missing values and malformed numbers', () => {
    expect(() => parseArgs(['--nope'], spec)).toThrow(UsageError);
    expect(() => parseArgs(['-x'], spec)).toThrow(UsageError);
    expect(() => parseArgs(['--model'], spec)).toThrow(/needs a value/);
    expect(() => parseArgs(['--model', '--json'], spec)).toThrow(/needs a value/);
    expect(() => parseArgs(['--json=yes'], spec)).toThrow(/takes no value/);
    expect(() => numberOption(parseArgs(['--runs', '2.5'], spec), 'runs', { integer: true })).toThrow(
      /integer/,
    );
    expect(() => numberOption(parseArgs(['--runs', 'x'], spec), 'runs')).toThrow(/number/);
    expect(() => listOption(parseArgs(['--models', ' , '], spec), 'models')).toThrow(/at least one/);
    expect(listOption(parseArgs(['--models', 'a, b,,c'], spec), 'models')).toEqual(['a', 'b', 'c']);
  });
});
