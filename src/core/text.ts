/** Below this length a loop over the characters is quicker than a regular expression. */
const SHORT_TEXT = 64;

/**
 * Whether `text` is short and every UTF-16 code unit of it is below `limit`: the quick answer for
 * the many small deltas of a stream, where a regular expression would cost more than the text.
 * False says nothing for a long text; the caller then looks the slower way.
 */
export function isShortTextBelow(text: string, limit: number): boolean {
  if (text.length >= SHORT_TEXT) return false;
  for (let index = 0; index < text.length; index++) if (text.charCodeAt(index) >= limit) return false;
  return true;
}
