/**
 * Builds a sample JSON value that satisfies a JSON Schema, the way a well-behaved model fills in
 * tool arguments or a structured-output document. Deterministic, so tests can assert exact JSON:
 * string → "sample", number/integer → 1, boolean → true, enum → its first value, const → itself,
 * object → every declared property, array → one item. Local `$ref`s (`#/$defs/x`,
 * `#/definitions/x`) are followed because SDK helpers (zod, pydantic) emit them.
 */

type Schema = Record<string, unknown>;

/** Deep enough for real schemas, shallow enough that a recursive `$ref` cannot loop forever. */
const MAX_DEPTH = 12;

function isSchema(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function resolveRef(ref: string, root: Schema): Schema | undefined {
  const match = /^#\/(\$defs|definitions)\/(.+)$/.exec(ref);
  if (!match) return undefined;
  const defs = root[match[1]!];
  if (!isSchema(defs)) return undefined;
  const target = defs[decodeURIComponent(match[2]!).replace(/~1/g, '/').replace(/~0/g, '~')];
  return isSchema(target) ? target : undefined;
}

/** The first non-null type of `type` (which may be a list such as `["string", "null"]`). */
function primaryType(schema: Schema): string | undefined {
  const type = schema.type;
  if (typeof type === 'string') return type;
  if (Array.isArray(type)) {
    const named = type.filter((t): t is string => typeof t === 'string');
    return named.find((t) => t !== 'null') ?? named[0];
  }
  if (isSchema(schema.properties)) return 'object';
  if (schema.items !== undefined) return 'array';
  return undefined;
}

function sample(schema: unknown, root: Schema, depth: number): unknown {
  if (!isSchema(schema) || depth > MAX_DEPTH) return {};
  if (typeof schema.$ref === 'string') {
    const target = resolveRef(schema.$ref, root);
    return target ? sample(target, root, depth + 1) : {};
  }
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  for (const key of ['anyOf', 'oneOf', 'allOf']) {
    const options = schema[key];
    if (Array.isArray(options) && options.length > 0) {
      // Prefer a non-null alternative: `anyOf: [{type: "null"}, X]` is how optional fields are spelled.
      const pick = options.find((o) => !(isSchema(o) && o.type === 'null')) ?? options[0];
      return sample(pick, root, depth + 1);
    }
  }
  switch (primaryType(schema)) {
    case 'string':
      return 'sample';
    case 'number':
    case 'integer':
      return 1;
    case 'boolean':
      return true;
    case 'null':
      return null;
    case 'array':
      return [sample(schema.items ?? {}, root, depth + 1)];
    case 'object': {
      const out: Record<string, unknown> = {};
      const properties = isSchema(schema.properties) ? schema.properties : {};
      for (const [name, propertySchema] of Object.entries(properties)) {
        out[name] = sample(propertySchema, root, depth + 1);
      }
      return out;
    }
    default:
      return {};
  }
}

/** A sample value for `schema`; an absent or empty schema gives `{}` (a function with no parameters). */
export function sampleFromSchema(schema: unknown): unknown {
  return sample(schema ?? {}, isSchema(schema) ? schema : {}, 0);
}
