/** A JSON object's members by name, as `JSON.parse` gives them for `{...}`. */
export type JsonObject = Record<string, unknown>;

/**
 * Whether a parsed JSON value is an object with members: not null, and not an array (which
 * `typeof` also calls "object"). Upstream payloads pass through it before their fields are read.
 */
export function isNonArrayObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
