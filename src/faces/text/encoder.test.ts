import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameLog } from '../../generation/log.js';
import type { Frame } from '../../protocol/frames.js';
import { textEncoder, textResumePoint } from './encoder.js';

const envelope = { provider: 'p', model: 'm' };
const chunk = (text: string): Frame => ({
  event: 'chunk',
  data: { ...envelope, delta_text: text, finish_reason: null, usage: null },
});
const failure: Frame = {
  event: 'error',
  data: { ...envelope, code: 'upstream_error', message: 'boom\nagain', retryable: false, partial: true },
};

function logOf(frames: Frame[]): FrameLog {
  const log = new FrameLog();
  log.append([{ event: 'start', data: { ...envelope, generation_id: 'g', created: 0, emulated: true } }]);
  log.append(frames);
  return log;
}

const body = (log: FrameLog, afterId = 0, skipChars = 0): string =>
  afterId >= log.lastId ? '' : textEncoder({ skipChars }).encode(log, afterId + 1, log.lastId, true);

describe('text encoder', () => {
  it('writes the answer text, then a failure on a line of its own', () => {
    expect(body(logOf([chunk('Hello'), chunk(' world'), failure]))).toBe(
      'Hello world\n[error] upstream_error: boom again\n',
    );
    expect(body(logOf([chunk('Hello\n'), failure]))).toBe('Hello\n[error] upstream_error: boom again\n');
    expect(body(logOf([failure]))).toBe('[error] upstream_error: boom again\n');
    expect(body(logOf([chunk('Hi'), chunk(''), { event: 'cancelled', data: envelope }]))).toBe(
      'Hi\n[error] cancelled: the generation was cancelled\n',
    );
  });

  it('resumes at any byte offset that ends a character with exactly the rest of the body', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'grapheme' }), { maxLength: 6 }),
        fc.boolean(),
        (texts, fails) => {
          const log = logOf([...texts.map(chunk), ...(fails ? [failure] : [])]);
          const whole = Buffer.from(body(log));
          for (let offset = 0; offset <= whole.length; offset++) {
            const point = textResumePoint(log, offset);
            const prefix = whole.subarray(0, offset);
            if (Buffer.from(prefix.toString('utf8')).equals(prefix)) {
              if (typeof point === 'string') throw new Error(point);
              expect(prefix.toString('utf8') + body(log, point.afterId, point.skipChars)).toBe(
                whole.toString('utf8'),
              );
            } else {
              expect(point).toMatch(/inside a character/);
            }
          }
          expect(textResumePoint(log, whole.length + 1)).toMatch(/past the/);
        },
      ),
      { numRuns: 200 },
    );
  });
});
