/**
 * Which form of the native stream a request asks for (CONTRACT.md section 8), read from its
 * `Accept` header: SSE unless NDJSON or plain text is preferred. Never a 406: a client that
 * names none of these (`application/json`, `*\/*`, no header) gets SSE, the default.
 */
export type StreamForm = 'sse' | 'ndjson' | 'text';

export const NDJSON_TYPE = 'application/x-ndjson';
export const TEXT_TYPE = 'text/plain';

/** Media types that name each form exactly; `application/jsonl` is the other common name of NDJSON. */
const EXACT: Readonly<Record<string, StreamForm>> = {
  'text/event-stream': 'sse',
  [NDJSON_TYPE]: 'ndjson',
  'application/jsonl': 'ndjson',
  'application/json-lines': 'ndjson',
  [TEXT_TYPE]: 'text',
};

/** Among equals, the order of preference: the contract's default first. */
const PREFERENCE: readonly StreamForm[] = ['sse', 'ndjson', 'text'];

interface Offer {
  quality: number;
  /** 2: named exactly; 1: `type/*`; 0: `*\/*`. An exact name beats a wildcard of the same quality. */
  specificity: number;
}

/** Headers are bounded by node:http, but a list this long is not a real client's. */
const MAX_RANGES = 64;

export function negotiateForm(accept: string | undefined): StreamForm {
  if (accept === undefined || accept.trim() === '') return 'sse';
  const best = new Map<StreamForm, Offer>();
  const offer = (form: StreamForm, quality: number, specificity: number): void => {
    const current = best.get(form);
    // RFC 9110 §12.5.1: the most specific range that matches a type decides its quality.
    if (current === undefined || specificity > current.specificity) best.set(form, { quality, specificity });
  };
  for (const range of accept.split(',').slice(0, MAX_RANGES)) {
    const [mediaType = '', ...parameters] = range.split(';').map((part) => part.trim().toLowerCase());
    let quality = 1;
    for (const parameter of parameters) {
      const match = /^q=([0-9.]{1,5})$/.exec(parameter);
      if (match?.[1] !== undefined) quality = Math.min(1, Number(match[1]) || 0);
    }
    const exact = EXACT[mediaType];
    if (exact !== undefined) offer(exact, quality, 2);
    else if (mediaType === 'text/*') {
      offer('sse', quality, 1);
      offer('text', quality, 1);
    } else if (mediaType === '*/*') for (const form of PREFERENCE) offer(form, quality, 0);
  }
  let chosen: StreamForm = 'sse';
  let chosenOffer: Offer = { quality: 0, specificity: -1 };
  for (const form of PREFERENCE) {
    const candidate = best.get(form);
    if (candidate === undefined || candidate.quality <= 0) continue;
    const better =
      candidate.quality > chosenOffer.quality ||
      (candidate.quality === chosenOffer.quality && candidate.specificity > chosenOffer.specificity);
    if (better) {
      chosen = form;
      chosenOffer = candidate;
    }
  }
  return chosen;
}
