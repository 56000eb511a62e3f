import { isIP } from 'node:net';
import { GENERATION_ID_HEADER } from '../protocol/http.js';

/**
 * Who may talk to the gateway from a browser (CONTRACT.md section 10): CORS headers only for
 * the configured origins, and, while the gateway listens on a loopback address, only `Host`
 * values that name this machine or are listed. Without the second rule any web site could
 * reach a gateway on the user's machine by pointing a name of its own at 127.0.0.1 (DNS
 * rebinding): the browser then sees the gateway as that site's own origin.
 */

const EXPOSED_HEADERS = [
  GENERATION_ID_HEADER,
  'X-Request-Id',
  'RateLimit-Limit',
  'RateLimit-Remaining',
  'RateLimit-Reset',
  'Retry-After',
].join(', ');
const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

/** The CORS headers for a request from `origin` (the `Origin` header, if any). */
export function corsHeaders(origins: readonly string[], origin: string | undefined): Record<string, string> {
  if (origins.length === 0) return {};
  if (origins[0] === '*') {
    return { 'Access-Control-Allow-Origin': '*', 'Access-Control-Expose-Headers': EXPOSED_HEADERS };
  }
  // The answer depends on Origin whether or not it is listed: caches must keep them apart.
  if (origin === undefined || !origins.includes(origin)) return { Vary: 'Origin' };
  return {
    'Access-Control-Allow-Origin': origin,
    'Access-Control-Expose-Headers': EXPOSED_HEADERS,
    Vary: 'Origin',
  };
}

/** Whether the gateway listening on `address` is reachable from this machine alone. */
export function isLoopbackAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === '::1' || bare === 'localhost') return true;
  const v4 = bare.startsWith('::ffff:') ? bare.slice(7) : bare;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/**
 * Whether a `Host` header is acceptable: a loopback name with any port, or a listed value (a
 * listed name alone accepts any port). Absent (HTTP/1.0) is acceptable: browsers always send it.
 */
export function hostAllowed(host: string | undefined, allowedHosts: readonly string[]): boolean {
  if (host === undefined) return true;
  const value = host.trim().toLowerCase();
  const match = /^(\[[0-9a-f:.]+\]|[^:[\]]*)(?::\d{1,5})?$/.exec(value);
  if (match === null) return false;
  const name = match[1] ?? '';
  return LOOPBACK_NAMES.has(name) || allowedHosts.includes(value) || allowedHosts.includes(name);
}
