import { describe, expect, it } from 'vitest';
import { parseChatRequest } from './request.js';

const parse = (body: Record<string, unknown>) => parseChatRequest({ provider: 'openai', ...body });

describe('request v2 (CONTRACT.md section 8)', () => {
  it('takes prompt as one user message', () => {
    const parsed = parse({ prompt: 'Why is the sky blue?' });
    expect(parsed).toMatchObject({
      ok: true,
      request: { messages: [{ role: 'user', content: 'Why is the sky blue?' }] },
    });
  });

  it('refuses prompt and messages together, and neither', () => {
    expect(parse({ prompt: 'a', messages: [{ role: 'user', content: 'b' }] })).toEqual({
      ok: false,
      issue: { message: 'give either prompt or messages, not both', field: 'prompt' },
    });
    expect(parse({})).toEqual({ ok: false, issue: { message: 'messages is required', field: 'messages' } });
    expect(parse({ prompt: '' })).toMatchObject({ ok: false, issue: { field: 'prompt' } });
    expect(parse({ prompt: 7 })).toMatchObject({ ok: false, issue: { field: 'prompt' } });
  });

  it('joins OpenAI-style text parts into the message text', () => {
    const parsed = parse({
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'Be terse.' }] },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Hello, ' },
            { type: 'text', text: 'world' },
          ],
        },
        { role: 'assistant', content: [] },
      ],
    });
    expect(parsed).toMatchObject({
      ok: true,
      request: {
        messages: [
          { role: 'system', content: 'Be terse.' },
          { role: 'user', content: 'Hello, world' },
          { role: 'assistant', content: '' },
        ],
      },
    });
  });

  it('refuses parts that are not text, naming the part', () => {
    const parsed = parse({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
          ],
        },
      ],
    });
    expect(parsed).toMatchObject({ ok: false, issue: { field: 'messages.0.content.1.type' } });
    if (!parsed.ok) expect(parsed.issue.message).toContain('only text parts');
    expect(parse({ messages: [{ role: 'user', content: [{ type: 'text' }] }] })).toMatchObject({
      ok: false,
      issue: { field: 'messages.0.content.0.text' },
    });
    expect(parse({ messages: [{ role: 'user', content: 5 }] })).toMatchObject({
      ok: false,
      issue: {
        field: 'messages.0.content',
        message: 'messages.0.content: content must be a string or an array of text parts',
      },
    });
  });
});
