import { describe, expect, it } from 'vitest';
import { type ContinuationStyle, OverlapTrimmer } from './overlap.js';

/** What the client ends up with: the partial answer, then what the trimmer lets through. */
function assemble(sent: string, continuation: readonly string[], style: ContinuationStyle): string {
  const trimmer = new OverlapTrimmer(sent, style);
  const shown = continuation.map((piece) => trimmer.push(piece));
  shown.push(trimmer.flush());
  return sent + shown.join('');
}

/** Every way of cutting `text` into two pieces, and into single characters. */
function splits(text: string): string[][] {
  const ways: string[][] = [[text], [...text]];
  for (let cut = 1; cut < text.length; cut++) ways.push([text.slice(0, cut), text.slice(cut)]);
  return ways;
}

describe('OverlapTrimmer, instruction style (the model is asked to continue)', () => {
  const cases: { name: string; sent: string; continuation: string; whole: string }[] = [
    {
      name: 'the last word repeated without its space',
      sent: 'The gateway streams every',
      continuation: 'every token as it arrives.',
      whole: 'The gateway streams every token as it arrives.',
    },
    {
      name: 'the last word repeated with its space',
      sent: 'The gateway streams every',
      continuation: ' every token as it arrives.',
      whole: 'The gateway streams every token as it arrives.',
    },
    {
      name: 'the last words repeated',
      sent: 'The gateway streams every',
      continuation: 'streams every token.',
      whole: 'The gateway streams every token.',
    },
    {
      name: 'a word cut in half, finished by the repeat',
      sent: 'The gateway str',
      continuation: 'streams every token.',
      whole: 'The gateway streams every token.',
    },
    {
      name: 'a partial answer ending in whitespace, the repeat without it',
      sent: 'Hello world. ',
      continuation: 'world. Next sentence.',
      whole: 'Hello world. Next sentence.',
    },
    {
      name: 'no repeat at all: nothing is dropped',
      sent: 'The gateway streams',
      continuation: ' every token.',
      whole: 'The gateway streams every token.',
    },
    {
      name: 'no repeat, and a next word that starts like the last one',
      sent: 'I read the',
      continuation: ' thesaurus.',
      whole: 'I read the thesaurus.',
    },
    {
      name: 'a repeated word in the text itself keeps its second copy',
      sent: 'said the the',
      continuation: 'the end.',
      whole: 'said the the end.',
    },
  ];
  for (const { name, sent, continuation, whole } of cases) {
    it(`${name}, however the continuation is split`, () => {
      for (const pieces of splits(continuation)) {
        expect(assemble(sent, pieces, 'instruction')).toBe(whole);
      }
    });
  }

  it('holds nothing back once it has decided', () => {
    const trimmer = new OverlapTrimmer('one two', 'instruction');
    expect(trimmer.push('tw')).toBe('');
    expect(trimmer.push('o')).toBe('');
    expect(trimmer.push(' three')).toBe(' three');
    expect(trimmer.push(' four')).toBe(' four');
    expect(trimmer.push(' five')).toBe(' five');
    expect(trimmer.flush()).toBe('');
  });

  it('decides on a bounded amount of text', () => {
    const trimmer = new OverlapTrimmer('one two', 'instruction');
    const shown = trimmer.push(`two${'x'.repeat(5000)}`);
    expect(shown.length).toBeGreaterThan(4000);
  });
});

describe('OverlapTrimmer, prefill style (the API continues the partial answer itself)', () => {
  it('drops whitespace the client already has, the prefill having been sent without it', () => {
    // The prefill was "Hello"; the model goes on with "  world": the first space is the client's.
    for (const pieces of splits('  world, again.')) {
      expect(assemble('Hello ', pieces, 'prefill')).toBe('Hello  world, again.');
    }
    expect(assemble('Hello ', [' world'], 'prefill')).toBe('Hello world');
    expect(assemble('Hello ', ['world'], 'prefill')).toBe('Hello world');
    expect(assemble('Hello \n\n', ['\n\nWorld'], 'prefill')).toBe('Hello \n\nWorld');
    expect(assemble('Hello', [' world'], 'prefill')).toBe('Hello world');
  });

  it('never drops words, even repeated ones', () => {
    expect(assemble('said the', [' the end.'], 'prefill')).toBe('said the the end.');
  });
});
