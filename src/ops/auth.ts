import { createHmac, hash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * Gateway keys (CONTRACT.md section 10): `Authorization: Bearer <key>` or `X-Api-Key: <key>`.
 * A presented key is written into a buffer of fixed size and compared with each key, padded the
 * same way, in constant time: every key every time, whatever matched, so neither a key nor which
 * key matched can be learned from timing. A key is known elsewhere (logs, limits, the owner of a
 * generation) by its id, never by itself.
 */

export interface KeyEntry {
  /** A name, or a fingerprint: what logs and limits call the key. */
  id: string;
  key: string;
}

/** Query parameter of a `stream_url` carrying a token for one generation. */
export const STREAM_TOKEN_QUERY = 'token';

/** SHA-256 in one call (no Hash object), for stream tokens. */
const digest = (text: string): Buffer => hash('sha256', text, 'buffer');

/** UTF-8 takes at most three bytes per UTF-16 unit (a surrogate pair: four for two). */
const MAX_BYTES_PER_UNIT = 3;

/** What a request's credentials say. */
export type Identity = { kind: 'key'; keyId: string } | { kind: 'none' } | { kind: 'invalid' };

/** The key a request presents, if any: a Bearer token, else `X-Api-Key`. */
function presentedKey(headers: IncomingHttpHeaders): string | undefined {
  const authorization = headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^\s*bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match?.[1] !== undefined) return match[1];
  }
  const apiKey = headers['x-api-key'];
  const value = Array.isArray(apiKey) ? apiKey[0] : apiKey;
  if (typeof value === 'string' && value.trim() !== '') return value.trim();
  // An Authorization header of another scheme (a proxy's Basic) is not a gateway key.
  return undefined;
}

/** `text` in UTF-8, zero-padded to `size` bytes. */
function padded(text: string, size: number): Buffer {
  const buffer = Buffer.alloc(size);
  buffer.write(text, 'utf8');
  return buffer;
}

export class KeyRing {
  private readonly entries: { id: string; padded: Buffer; bytes: number; secret: Buffer }[];
  /** The longest key, in UTF-16 units: a longer presented key is none of them. */
  private readonly maxUnits: number;
  /** Where a presented key is written (one at a time: identify runs synchronously). */
  private readonly scratch: Buffer;

  constructor(keys: readonly KeyEntry[]) {
    this.maxUnits = Math.max(0, ...keys.map((entry) => entry.key.length));
    const size = this.maxUnits * MAX_BYTES_PER_UNIT;
    this.scratch = Buffer.alloc(size);
    this.entries = keys.map((entry) => ({
      id: entry.id,
      padded: padded(entry.key, size),
      bytes: Buffer.byteLength(entry.key),
      // Stream tokens are signed with a secret derived from the key that started the generation:
      // every instance derives the same one, and dropping the key revokes its tokens.
      secret: createHmac('sha256', entry.key).update('sluice stream token').digest(),
    }));
  }

  /** Whether any key is configured (else the gateway is open). */
  get enabled(): boolean {
    return this.entries.length > 0;
  }

  /** Which key the request presents: its id, none at all, or one that is not a gateway key. */
  identify(headers: IncomingHttpHeaders): Identity {
    const presented = presentedKey(headers);
    if (presented === undefined) return { kind: 'none' };
    // Longer than every key: that says nothing about any key.
    if (presented.length > this.maxUnits) return { kind: 'invalid' };
    const scratch = this.scratch;
    scratch.fill(0);
    const bytes = scratch.write(presented, 'utf8');
    let found: string | undefined;
    for (const entry of this.entries) {
      // No early exit: the time taken does not depend on which key matched. The lengths are
      // compared too: the zero padding must not make "key" equal "key\0".
      const same = timingSafeEqual(scratch, entry.padded);
      if (same && bytes === entry.bytes && found === undefined) found = entry.id;
    }
    return found === undefined ? { kind: 'invalid' } : { kind: 'key', keyId: found };
  }

  /** A token that lets a reader without headers (EventSource) read one generation of `keyId`. */
  streamToken(keyId: string, generationId: string): string | undefined {
    const entry = this.entries.find((candidate) => candidate.id === keyId);
    if (entry === undefined) return undefined;
    return createHmac('sha256', entry.secret).update(generationId).digest('base64url');
  }

  /** Whether `token` is the stream token of `generationId` started with `keyId`. */
  checkStreamToken(keyId: string, generationId: string, token: string): boolean {
    const expected = this.streamToken(keyId, generationId);
    if (expected === undefined) return false;
    // Compared as digests: equal lengths, constant time.
    return timingSafeEqual(digest(expected), digest(token));
  }
}
