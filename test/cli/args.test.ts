import { describe, expect, it } from 'vitest';
import {
  listOption,
  numberOption,
  parseArgs,
  parseOptionsOnly,
  portOption,
  stringOption,
  UsageError,
  wantsHelp,
} from '../../src/cli/args.js';

const spec = { model: 'string', json: 'boolean', runs: 'string', models: 'string' } as const;

describe('CLI argument parsing', () => {
  it('parseOptionsOnly: undefined for help, the options otherwise, a positional refused', () => {
    expect(parseOptionsOnly(['--runs', '3', '--help'], spec)).toBeUndefined();
    expect(parseOptionsOnly(['-h'], spec)).toBeUndefined();
    expect(parseOptionsOnly(['--runs', '3'], spec)?.options.get('runs')).toBe('3');
    expect(() => parseOptionsOnly(['--runs', '3', 'extra'], spec)).toThrow(
      new UsageError('unknown argument "extra"'),
    );
  });

  it('reads values, flags, "=" forms, "-" and "--"', () => {
    const args = parseArgs(['hello', '--model', 'gpt-4o', '--json', '--runs=3', '-', '--', '--json'], spec);
    expect(args.options.get('model')).toBe('gpt-4o');
    expect(args.options.get('json')).toBe(true);
    expect(numberOption(args, 'runs', { integer: true, min: 1 })).toBe(3);
    expect(args.positionals).toEqual(['hello', '-', '--json']);
  });

  it('takes --flag=value for every option, values holding "=" or dashes included', () => {
    const args = parseArgs(['--model=gpt-4o', '--models=a,b', '--runs=-1', 'hi'], spec);
    expect(stringOption(args, 'model')).toBe('gpt-4o');
    expect(listOption(args, 'models')).toEqual(['a', 'b']);
    expect(stringOption(args, 'runs')).toBe('-1');
    expect(args.positionals).toEqual(['hi']);
    expect(stringOption(parseArgs(['--model=--json'], spec), 'model')).toBe('--json');
    expect(stringOption(parseArgs(['--model=a=b'], spec), 'model')).toBe('a=b');
    expect(stringOption(parseArgs(['--model='], spec), 'model')).toBe('');
    const server = parseArgs(['--port=9000'], { port: 'string' });
    expect(portOption(server, 'port', 8000)).toBe(9000);
    expect(portOption(parseArgs(['--port', '0'], { port: 'string' }), 'port', 8000)).toBe(0);
    expect(portOption(parseArgs([], { port: 'string' }), 'port', 8000)).toBe(8000);
    expect(() => portOption(parseArgs(['--port=70000'], { port: 'string' }), 'port', 8000)).toThrow(
      /invalid port "70000"/,
    );
  });

  it('keeps negative numbers as positionals and takes the last of a repeated option', () => {
    expect(parseArgs(['-5', '--json', '-1.5'], spec).positionals).toEqual(['-5', '-1.5']);
    expect(stringOption(parseArgs(['--model', '-5'], spec), 'model')).toBe('-5');
    expect(stringOption(parseArgs(['--model', 'a', '--model=b'], spec), 'model')).toBe('b');
  });

  it('refuses unknown options, missing values and malformed numbers', () => {
    expect(() => parseArgs(['--nope'], spec)).toThrow(UsageError);
    expect(() => parseArgs(['--nope=1'], spec)).toThrow(/unknown option "--nope"/);
    expect(() => parseArgs(['-x'], spec)).toThrow(UsageError);
    expect(() => parseArgs(['-xy'], spec)).toThrow(/unknown option "-xy"/);
    expect(() => parseArgs(['--model'], spec)).toThrow(/needs a value/);
    expect(() => parseArgs(['--model', '--json'], spec)).toThrow(/needs a value/);
    expect(() => parseArgs(['--model', '--'], spec)).toThrow(/needs a value/);
    expect(() => parseArgs(['--json=yes'], spec)).toThrow(/takes no value/);
    expect(() => numberOption(parseArgs(['--runs', '2.5'], spec), 'runs', { integer: true })).toThrow(
      /integer/,
    );
    expect(() => numberOption(parseArgs(['--runs', 'x'], spec), 'runs')).toThrow(/number/);
    expect(() => listOption(parseArgs(['--models', ' , '], spec), 'models')).toThrow(/at least one/);
    expect(listOption(parseArgs(['--models', 'a, b,,c'], spec), 'models')).toEqual(['a', 'b', 'c']);
  });

  it('sees --help and -h only before "--"', () => {
    expect(wantsHelp(['--json', '--help'])).toBe(true);
    expect(wantsHelp(['-h'])).toBe(true);
    expect(wantsHelp(['--', '--help'])).toBe(false);
    expect(wantsHelp(['hello'])).toBe(false);
  });
});
