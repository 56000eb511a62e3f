import { isNonArrayObject, type JsonObject } from '../../core/json.js';

/**
 * JSON Schema (what OpenAI-style tools carry) -> the OpenAPI-3.0 subset Gemini's
 * `functionDeclarations[].parameters` accepts. Gemini answers 400 "Invalid JSON payload received.
 * Unknown name ..." for any other key (`$schema`, `additionalProperties`, `$defs`, `const`, ...),
 * so this keeps an allowlist (the fields of Gemini's `Schema` type) rather than a denylist.
 */

/** Keys copied as they are. */
const PLAIN_KEYS = new Set([
  'description',
  'title',
  'nullable',
  'enum',
  'example',
  'default',
  'required',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
  'minLength',
  'maxLength',
  'pattern',
  'minimum',
  'maximum',
  'propertyOrdering',
]);

/** String and number formats Gemini knows; others (`email`, `uri`, ...) are refused, so dropped. */
const FORMATS = new Set(['enum', 'date-time', 'int32', 'int64', 'float', 'double']);

function hasNoProperties(schema: JsonObject): boolean {
  return !isNonArrayObject(schema.properties) || Object.keys(schema.properties).length === 0;
}

/**
 * Converts one schema. At the top level an object schema without properties becomes undefined
 * (no `parameters` at all): Gemini refuses an OBJECT whose `properties` is empty.
 */
export function toGeminiSchema(schema: unknown, topLevel = false): JsonObject | undefined {
  if (!isNonArrayObject(schema)) return undefined;
  if (topLevel && (schema.type === undefined || schema.type === 'object') && hasNoProperties(schema)) {
    return undefined;
  }
  const result: JsonObject = {};
  // JSON Schema's `["string", "null"]` is Gemini's `type` + `nullable`.
  if (Array.isArray(schema.type)) {
    const types = schema.type.filter((type): type is string => typeof type === 'string');
    const concrete = types.filter((type) => type !== 'null');
    if (concrete[0] !== undefined) result.type = concrete[0];
    if (types.includes('null')) result.nullable = true;
  } else if (typeof schema.type === 'string') {
    result.type = schema.type;
  }
  for (const [key, value] of Object.entries(schema)) {
    if (PLAIN_KEYS.has(key) && value !== undefined && !(key === 'nullable' && key in result)) {
      result[key] = value;
    }
  }
  if (typeof schema.format === 'string' && FORMATS.has(schema.format)) result.format = schema.format;
  if (schema.const !== undefined && result.enum === undefined) result.enum = [schema.const];
  if (isNonArrayObject(schema.properties) && Object.keys(schema.properties).length > 0) {
    const properties: JsonObject = {};
    for (const [name, property] of Object.entries(schema.properties)) {
      properties[name] = toGeminiSchema(property) ?? {};
    }
    result.properties = properties;
  }
  if (schema.items !== undefined) {
    const items = toGeminiSchema(Array.isArray(schema.items) ? schema.items[0] : schema.items);
    if (items !== undefined) result.items = items;
  }
  // Gemini has `anyOf` only; `oneOf` is the same for a model filling in arguments.
  const alternatives = Array.isArray(schema.anyOf) ? schema.anyOf : schema.oneOf;
  if (Array.isArray(alternatives)) {
    result.anyOf = alternatives.map((entry) => toGeminiSchema(entry) ?? {});
  }
  return result;
}
