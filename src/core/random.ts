import { randomFillSync } from 'node:crypto';

/**
 * Random hex digits from a pooled buffer of cryptographic randomness, refilled when spent: one
 * `randomFillSync` per 4 KB instead of one draw per id, and one `toString('hex')` per id. Ids made
 * from it (generation ids, trace and span ids) are unguessable: each digit is 4 random bits.
 */
const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let offset = POOL_BYTES;

/** `digits` random hex digits (an even number, at most 2 x 4096). */
export function randomHex(digits: number): string {
  const bytes = digits >>> 1;
  if (bytes * 2 !== digits || bytes > POOL_BYTES) throw new RangeError(`cannot draw ${digits} hex digits`);
  if (offset + bytes > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const hex = pool.toString('hex', offset, offset + bytes);
  // What was handed out is not handed out again, and not kept where a later id could reveal it.
  pool.fill(0, offset, offset + bytes);
  offset += bytes;
  return hex;
}
