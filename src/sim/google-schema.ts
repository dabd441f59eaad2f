/**
 * Checks a Gemini `Schema` (the OpenAPI-3.0 subset of function `parameters` and `responseSchema`) the
 * way Google's proto-JSON parser does (pitfall 13): an unknown keyword is a 400 naming it, `type` is
 * one value, OBJECT parameters need properties, and `required` may only name declared properties.
 * Also lower-cases `type` for the engine (the SDK sends `"STRING"`, JSON Schema says `"string"`).
 */

import { type GoogleError, invalidArgument, unknownField } from './google-errors.ts';

type Json = Record<string, unknown>;

const SCHEMA_FIELDS = new Set([
  'type',
  'format',
  'title',
  'description',
  'nullable',
  'enum',
  'maxItems',
  'minItems',
  'properties',
  'required',
  'minProperties',
  'maxProperties',
  'minLength',
  'maxLength',
  'pattern',
  'example',
  'anyOf',
  'propertyOrdering',
  'default',
  'items',
  'minimum',
  'maximum',
]);
const TYPES = new Set([
  'TYPE_UNSPECIFIED',
  'STRING',
  'NUMBER',
  'INTEGER',
  'BOOLEAN',
  'ARRAY',
  'OBJECT',
  'NULL',
]);

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** snake_case → camelCase: the proto-JSON parser accepts both spellings of every field. */
export const camel = (name: string): string => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
/** camelCase → snake_case, as Google's error paths spell fields. */
export const snake = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The first problem in `schema` at `path`, or undefined. */
export function checkSchema(schema: unknown, path: string): GoogleError | undefined {
  if (!isObject(schema))
    return invalidArgument(
      `Invalid value at '${path}' (type.googleapis.com/google.ai.generativelanguage.v1beta.Schema)`,
    );
  for (const key of Object.keys(schema)) {
    if (!SCHEMA_FIELDS.has(camel(key))) return unknownField(key, path);
  }
  const type = schema.type;
  if (Array.isArray(type))
    return invalidArgument('Invalid JSON payload received. Proto field is not repeating, cannot start list.');
  if (type !== undefined && (typeof type !== 'string' || !TYPES.has(type.toUpperCase()))) {
    return invalidArgument(
      `Invalid value at '${path}.type' (type.googleapis.com/google.ai.generativelanguage.v1beta.Type), ${JSON.stringify(type)}`,
    );
  }
  const properties = schema.properties;
  if (properties !== undefined) {
    if (!isObject(properties)) return invalidArgument(`Invalid value at '${path}.properties'`);
    for (const [name, property] of Object.entries(properties)) {
      const problem = checkSchema(property, `${path}.properties[${name}].value`);
      if (problem) return problem;
    }
  }
  if (Array.isArray(schema.required)) {
    const names = isObject(properties) ? Object.keys(properties) : [];
    const index = schema.required.findIndex((r) => typeof r !== 'string' || !names.includes(r));
    if (index !== -1)
      return invalidArgument(`* GenerateContentRequest.${path}.required[${index}]: property is not defined`);
  }
  if (schema.items !== undefined) {
    const problem = checkSchema(schema.items, `${path}.items`);
    if (problem) return problem;
  }
  if (typeof type === 'string' && type.toUpperCase() === 'ARRAY' && schema.items === undefined) {
    return invalidArgument(`* GenerateContentRequest.${path}.items: missing field.`);
  }
  if (Array.isArray(schema.anyOf)) {
    for (const [i, option] of schema.anyOf.entries()) {
      const problem = checkSchema(option, `${path}.any_of[${i}]`);
      if (problem) return problem;
    }
  }
  return undefined;
}

/** Function parameters: a schema whose OBJECT type needs at least one property. */
export function checkParameters(schema: unknown, path: string): GoogleError | undefined {
  const problem = checkSchema(schema, path);
  if (problem) return problem;
  const s = schema as Json;
  const empty = !isObject(s.properties) || Object.keys(s.properties).length === 0;
  if (typeof s.type === 'string' && s.type.toUpperCase() === 'OBJECT' && empty) {
    return invalidArgument(
      `* GenerateContentRequest.${path}.properties: should be non-empty for OBJECT type`,
    );
  }
  return undefined;
}

/** A copy with every `type` lower-cased, so the engine's JSON-Schema sampler reads it. */
export function lowerTypes(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(lowerTypes);
  if (!isObject(schema)) return schema;
  const out: Json = {};
  for (const [key, value] of Object.entries(schema)) {
    out[key] = key === 'type' && typeof value === 'string' ? value.toLowerCase() : lowerTypes(value);
  }
  return out;
}
