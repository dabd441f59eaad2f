/**
 * JSON Schema (what OpenAI clients send as tool parameters and `json_schema` formats) → the
 * OpenAPI-3.0 subset Gemini's `Schema` message accepts (pitfall 13).
 *
 * Why convert instead of sending `parametersJsonSchema` / `responseJsonSchema`: the subset works on
 * every Gemini model and on both the Gemini API and Vertex, while the JSON-Schema fields are newer
 * and not honoured everywhere. Unknown keywords are not ignored by Google's proto-JSON parser: each
 * one is a 400 "Invalid JSON payload received. Unknown name ...", so every keyword is either kept,
 * converted or dropped here, deliberately:
 *
 * kept      type (string form), description, nullable, enum (all-string), items, properties,
 *           required (only names that are properties), minItems, maxItems, minLength, maxLength,
 *           pattern, minimum, maximum, minProperties, maxProperties, anyOf
 * converted $ref → the local definition inlined (`#/$defs/x`, `#/definitions/x`; a recursive
 *             reference becomes `{type: object}` past the depth limit)
 *           const → enum: [value] for strings; the value's type otherwise
 *           type: [T, "null"] → type T + nullable: true; several non-null types → anyOf
 *           anyOf/oneOf containing {type: "null"} → the other branch(es) + nullable: true
 *           oneOf → anyOf; allOf → its members merged (properties and required united)
 *           exclusiveMinimum / exclusiveMaximum (numbers) → minimum / maximum (bounds become inclusive)
 *           format → kept only where Gemini accepts it (string: date-time, enum; integer: int32,
 *             int64; number: float, double)
 *           array without items → items: {}
 * dropped   $schema, $id, $comment, $defs, definitions, additionalProperties, propertyNames,
 *           patternProperties, unevaluatedProperties, dependentRequired, dependentSchemas, title,
 *           default, examples, readOnly, writeOnly, contentMediaType, contentEncoding, if/then/else,
 *           not, prefixItems, uniqueItems, multipleOf, enum with non-string values, and anything else
 */

type Schema = Record<string, unknown>;

export interface GeminiSchemaOptions {
  /**
   * Adds `propertyOrdering` (the declared order) to objects. Gemini orders the keys of structured
   * output alphabetically unless told otherwise; OpenAI clients expect the schema's order.
   */
  propertyOrdering?: boolean;
}

/** Deep enough for real schemas; a recursive `$ref` stops here instead of looping. */
const MAX_DEPTH = 16;

const STRING_FORMATS = new Set(['date-time', 'enum']);
const INTEGER_FORMATS = new Set(['int32', 'int64']);
const NUMBER_FORMATS = new Set(['float', 'double']);
const COPIED = [
  'description',
  'minItems',
  'maxItems',
  'minLength',
  'maxLength',
  'pattern',
  'minimum',
  'maximum',
  'minProperties',
  'maxProperties',
] as const;

function isSchema(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function resolveRef(ref: string, root: Schema): Schema | undefined {
  const match = /^#\/(\$defs|definitions)\/(.+)$/.exec(ref);
  if (!match) return undefined;
  const defs = root[match[1] ?? ''];
  if (!isSchema(defs)) return undefined;
  let name: string;
  try {
    name = decodeURIComponent(match[2] ?? '');
  } catch {
    // A stray % is no escape: read the name as written.
    name = match[2] ?? '';
  }
  const target = defs[name.replace(/~1/g, '/').replace(/~0/g, '~')];
  return isSchema(target) ? target : undefined;
}

const isNullSchema = (s: unknown): boolean => isSchema(s) && s.type === 'null';

/** `allOf` members merged into one schema: the usual spelling of "this object plus that one". */
function mergeAllOf(schema: Schema, root: Schema, depth: number): Schema {
  const { allOf, ...rest } = schema;
  const merged: Schema = { ...rest };
  // A self-referencing allOf would otherwise merge forever.
  if (depth > MAX_DEPTH) return merged;
  const properties: Schema = isSchema(rest.properties) ? { ...rest.properties } : {};
  const required = new Set<unknown>(Array.isArray(rest.required) ? rest.required : []);
  for (const raw of Array.isArray(allOf) ? allOf : []) {
    let member = raw;
    for (let hops = 0; isSchema(member) && typeof member.$ref === 'string' && hops < MAX_DEPTH; hops++) {
      member = resolveRef(member.$ref, root);
    }
    if (!isSchema(member)) continue;
    const inner = member.allOf ? mergeAllOf(member, root, depth + 1) : member;
    for (const [key, value] of Object.entries(inner)) {
      if (key === 'properties' && isSchema(value)) Object.assign(properties, value);
      else if (key === 'required' && Array.isArray(value)) for (const name of value) required.add(name);
      else if (!(key in merged)) merged[key] = value;
    }
  }
  if (Object.keys(properties).length > 0) merged.properties = properties;
  if (required.size > 0) merged.required = [...required];
  return merged;
}

function typeOfValue(value: unknown): string | undefined {
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  if (Array.isArray(value)) return 'array';
  if (isSchema(value)) return 'object';
  return undefined;
}

function convert(input: unknown, root: Schema, depth: number, options: GeminiSchemaOptions): Schema {
  if (!isSchema(input)) return {};
  if (depth > MAX_DEPTH) return { type: 'object' };
  if (typeof input.$ref === 'string') {
    const target = resolveRef(input.$ref, root);
    // Sibling keywords of a $ref (a description, usually) apply on top of the target.
    const { $ref: _ref, ...siblings } = input;
    return target ? convert({ ...target, ...siblings }, root, depth + 1, options) : {};
  }
  const schema = Array.isArray(input.allOf) ? mergeAllOf(input, root, depth) : input;
  const out: Schema = {};
  let nullable = schema.nullable === true;

  // type: a string, or a list that may include "null".
  let type: string | undefined;
  const types = (Array.isArray(schema.type) ? schema.type : [schema.type]).filter(
    (t): t is string => typeof t === 'string',
  );
  if (types.includes('null') && types.length > 1) nullable = true;
  const named = types.filter((t) => t !== 'null');
  if (named.length > 1) {
    // Gemini's `type` is one value ("Proto field is not repeating"): one branch per type instead.
    const { type: _type, description, ...rest } = schema;
    return {
      anyOf: named.map((t) => convert({ ...rest, type: t }, root, depth + 1, options)),
      ...(nullable ? { nullable: true } : {}),
      ...(typeof description === 'string' ? { description } : {}),
    };
  }
  if (named.length === 1) type = named[0];
  else if (types.length === 1) nullable = true;

  if ('const' in schema) {
    const value = schema.const;
    type ??= typeOfValue(value);
    if (typeof value === 'string') out.enum = [value];
  } else if (Array.isArray(schema.enum) && schema.enum.length > 0) {
    const values = schema.enum.filter((v) => v !== null);
    if (schema.enum.includes(null)) nullable = true;
    // Gemini enums are strings only; other enums would be refused, so they are dropped.
    if (values.length > 0 && values.every((v) => typeof v === 'string')) {
      out.enum = values;
      type ??= 'string';
    }
  }

  const alternatives = Array.isArray(schema.anyOf)
    ? schema.anyOf
    : Array.isArray(schema.oneOf)
      ? schema.oneOf
      : undefined;
  if (alternatives) {
    const nonNull = alternatives.filter((a) => !isNullSchema(a));
    if (nonNull.length < alternatives.length) nullable = true;
    if (nonNull.length === 1) {
      // `anyOf: [X, {type: null}]` is how zod and pydantic spell an optional field: X, nullable.
      const only = convert(nonNull[0], root, depth + 1, options);
      Object.assign(out, only, schema.description === undefined ? {} : { description: schema.description });
      if (nullable) out.nullable = true;
      return out;
    }
    if (nonNull.length > 1) out.anyOf = nonNull.map((a) => convert(a, root, depth + 1, options));
  }

  if (type === undefined && out.anyOf === undefined) {
    if (isSchema(schema.properties)) type = 'object';
    else if (schema.items !== undefined) type = 'array';
  }
  if (type !== undefined) out.type = type;
  if (nullable) out.nullable = true;

  for (const key of COPIED) if (schema[key] !== undefined) out[key] = schema[key];
  if (typeof schema.exclusiveMinimum === 'number' && out.minimum === undefined)
    out.minimum = schema.exclusiveMinimum;
  if (typeof schema.exclusiveMaximum === 'number' && out.maximum === undefined)
    out.maximum = schema.exclusiveMaximum;

  const format = schema.format;
  if (typeof format === 'string') {
    const allowed =
      type === 'string'
        ? STRING_FORMATS
        : type === 'integer'
          ? INTEGER_FORMATS
          : type === 'number'
            ? NUMBER_FORMATS
            : undefined;
    if (allowed?.has(format)) out.format = format;
  }

  if (type === 'array') {
    const items = Array.isArray(schema.items) ? schema.items[0] : schema.items;
    out.items = convert(items ?? {}, root, depth + 1, options);
  }
  if (isSchema(schema.properties)) {
    const properties: Schema = {};
    for (const [name, property] of Object.entries(schema.properties)) {
      properties[name] = convert(property, root, depth + 1, options);
    }
    out.properties = properties;
    const names = Object.keys(properties);
    if (Array.isArray(schema.required)) {
      // Gemini refuses a required name that is not a declared property.
      const required = schema.required.filter((r): r is string => typeof r === 'string' && names.includes(r));
      if (required.length > 0) out.required = required;
    }
    if (options.propertyOrdering && names.length > 1) out.propertyOrdering = names;
  }
  return out;
}

/** A JSON Schema converted to Gemini's `Schema` (see the file comment for each keyword). */
export function toGeminiSchema(schema: Record<string, unknown>, options: GeminiSchemaOptions = {}): Schema {
  return convert(schema, schema, 0, options);
}

/**
 * Gemini refuses `parameters` of type object with no properties ("should be non-empty for OBJECT
 * type"); a function without parameters omits the field instead, as vercel/ai does.
 */
export function toFunctionParameters(schema: Record<string, unknown> | undefined): Schema | undefined {
  if (schema === undefined) return undefined;
  const converted = toGeminiSchema(schema);
  const properties = converted.properties;
  if (converted.type === 'object' && (!isSchema(properties) || Object.keys(properties).length === 0)) {
    return undefined;
  }
  return converted;
}
