/**
 * JSON Schema → Gemini's OpenAPI-subset Schema (pitfall 13): one case per keyword that is kept,
 * converted or dropped, as documented in src/providers/google/schema.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toFunctionParameters, toGeminiSchema } from '../../src/providers/google/schema.ts';

const convert = (schema: Record<string, unknown>) => toGeminiSchema(schema);

describe('gemini schema: kept keywords', () => {
  it('type, description, enum, items, properties, required and the numeric/string/array bounds', () => {
    const schema = {
      type: 'object',
      description: 'd',
      properties: {
        s: { type: 'string', minLength: 1, maxLength: 9, pattern: '^a' },
        n: { type: 'number', minimum: 0, maximum: 5 },
        a: { type: 'array', items: { type: 'string', enum: ['x', 'y'] }, minItems: 1, maxItems: 3 },
        o: { type: 'object', properties: { k: { type: 'boolean' } }, minProperties: 1, maxProperties: 2 },
      },
      required: ['s'],
    };
    assert.deepEqual(convert(schema), schema);
  });

  it('nullable: true and anyOf of real alternatives stay', () => {
    const schema = { anyOf: [{ type: 'string' }, { type: 'integer' }], nullable: true };
    assert.deepEqual(convert(schema), schema);
  });
});

describe('gemini schema: converted keywords', () => {
  it('$ref to $defs / definitions is inlined, sibling description kept', () => {
    assert.deepEqual(
      convert({
        type: 'object',
        properties: {
          home: { $ref: '#/$defs/Address', description: 'where' },
          work: { $ref: '#/definitions/Address' },
        },
        $defs: { Address: { type: 'object', properties: { city: { type: 'string' } } } },
        definitions: { Address: { type: 'object', properties: { zip: { type: 'string' } } } },
      }),
      {
        type: 'object',
        properties: {
          home: { type: 'object', description: 'where', properties: { city: { type: 'string' } } },
          work: { type: 'object', properties: { zip: { type: 'string' } } },
        },
      },
    );
  });

  it('a recursive $ref stops at the depth limit instead of looping', () => {
    const node = convert({
      $ref: '#/$defs/Node',
      $defs: { Node: { type: 'object', properties: { child: { $ref: '#/$defs/Node' } } } },
    });
    let depth = 0;
    let current: unknown = node;
    while (typeof current === 'object' && current !== null && 'properties' in current) {
      current = (current as { properties: { child: unknown } }).properties.child;
      depth++;
    }
    assert.ok(depth > 3 && depth < 20, `depth ${depth}`);
    assert.deepEqual(current, { type: 'object' });
  });

  it('an unresolvable $ref becomes an empty schema', () => {
    assert.deepEqual(convert({ $ref: 'https://example.com/x.json' }), {});
  });

  it('const → a one-value enum (strings) or just its type', () => {
    assert.deepEqual(convert({ const: 'celsius' }), { type: 'string', enum: ['celsius'] });
    assert.deepEqual(convert({ const: 3 }), { type: 'integer' });
    assert.deepEqual(convert({ const: true }), { type: 'boolean' });
  });

  it('type: [T, "null"] → T + nullable; several types → anyOf', () => {
    assert.deepEqual(convert({ type: ['string', 'null'], description: 'd' }), {
      type: 'string',
      nullable: true,
      description: 'd',
    });
    assert.deepEqual(convert({ type: ['string', 'integer', 'null'], minimum: 2, description: 'd' }), {
      anyOf: [
        { type: 'string', minimum: 2 },
        { type: 'integer', minimum: 2 },
      ],
      nullable: true,
      description: 'd',
    });
    assert.deepEqual(convert({ type: 'null' }), { nullable: true });
  });

  it('anyOf / oneOf with a null branch → the other branch, nullable (zod / pydantic optional)', () => {
    assert.deepEqual(convert({ anyOf: [{ type: 'string' }, { type: 'null' }], description: 'opt' }), {
      type: 'string',
      nullable: true,
      description: 'opt',
    });
    assert.deepEqual(convert({ oneOf: [{ type: 'integer' }, { type: 'string' }] }), {
      anyOf: [{ type: 'integer' }, { type: 'string' }],
    });
  });

  it('allOf → its members merged (properties and required united)', () => {
    assert.deepEqual(
      convert({
        allOf: [
          { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] },
          { $ref: '#/$defs/B' },
        ],
        $defs: { B: { properties: { b: { type: 'integer' } }, required: ['b'] } },
      }),
      { type: 'object', properties: { a: { type: 'string' }, b: { type: 'integer' } }, required: ['a', 'b'] },
    );
  });

  it('a self-referencing allOf terminates', () => {
    const converted = convert({
      $ref: '#/$defs/A',
      $defs: { A: { allOf: [{ $ref: '#/$defs/A' }], type: 'object' } },
    });
    assert.equal(converted.type, 'object');
  });

  it('exclusiveMinimum / exclusiveMaximum → minimum / maximum', () => {
    assert.deepEqual(convert({ type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 10 }), {
      type: 'number',
      minimum: 0,
      maximum: 10,
    });
  });

  it('format kept only where Gemini accepts it', () => {
    assert.deepEqual(convert({ type: 'string', format: 'date-time' }), {
      type: 'string',
      format: 'date-time',
    });
    assert.deepEqual(convert({ type: 'string', format: 'email' }), { type: 'string' });
    assert.deepEqual(convert({ type: 'integer', format: 'int64' }), { type: 'integer', format: 'int64' });
    assert.deepEqual(convert({ type: 'number', format: 'double' }), { type: 'number', format: 'double' });
    assert.deepEqual(convert({ type: 'number', format: 'int32' }), { type: 'number' });
  });

  it('arrays get items (tuple items: the first); type inferred from properties or items', () => {
    assert.deepEqual(convert({ type: 'array' }), { type: 'array', items: {} });
    assert.deepEqual(convert({ type: 'array', items: [{ type: 'string' }, { type: 'integer' }] }), {
      type: 'array',
      items: { type: 'string' },
    });
    assert.deepEqual(convert({ properties: { a: { type: 'string' } } }), {
      type: 'object',
      properties: { a: { type: 'string' } },
    });
    assert.deepEqual(convert({ items: { type: 'string' } }), { type: 'array', items: { type: 'string' } });
  });

  it('required keeps only declared properties', () => {
    assert.deepEqual(
      convert({ type: 'object', properties: { a: { type: 'string' } }, required: ['a', 'ghost'] }),
      {
        type: 'object',
        properties: { a: { type: 'string' } },
        required: ['a'],
      },
    );
  });

  it('propertyOrdering on request, for structured output', () => {
    assert.deepEqual(
      toGeminiSchema(
        {
          type: 'object',
          properties: { z: { type: 'string' }, a: { type: 'object', properties: { y: {}, b: {} } } },
        },
        { propertyOrdering: true },
      ),
      {
        type: 'object',
        properties: {
          z: { type: 'string' },
          a: { type: 'object', properties: { y: {}, b: {} }, propertyOrdering: ['y', 'b'] },
        },
        propertyOrdering: ['z', 'a'],
      },
    );
  });
});

describe('gemini schema: dropped keywords', () => {
  it('each unsupported keyword is dropped, the rest of the schema kept', () => {
    const dropped: Record<string, unknown> = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      $id: 'x',
      $comment: 'c',
      additionalProperties: false,
      propertyNames: { pattern: '^a' },
      patternProperties: { '^x': {} },
      unevaluatedProperties: false,
      dependentRequired: { a: ['b'] },
      title: 'T',
      default: 'd',
      examples: ['e'],
      readOnly: true,
      writeOnly: false,
      contentMediaType: 'text/plain',
      contentEncoding: 'base64',
      if: {},
      else: {},
      not: {},
      uniqueItems: true,
      multipleOf: 2,
      strict: true,
    };
    // `then` is added apart: an object literal with a `then` key looks like a promise to the linter.
    Object.defineProperty(dropped, 'then', { value: {}, enumerable: true });
    for (const [keyword, value] of Object.entries(dropped)) {
      assert.deepEqual(convert({ type: 'string', [keyword]: value }), { type: 'string' }, keyword);
    }
  });

  it('enums with non-string values are dropped (Gemini enums are strings); null in an enum → nullable', () => {
    assert.deepEqual(convert({ type: 'integer', enum: [1, 2] }), { type: 'integer' });
    assert.deepEqual(convert({ enum: ['a', null] }), { type: 'string', enum: ['a'], nullable: true });
  });
});

describe('gemini function parameters', () => {
  it('absent or property-less object parameters are omitted (Gemini refuses an empty OBJECT)', () => {
    assert.equal(toFunctionParameters(undefined), undefined);
    assert.equal(toFunctionParameters({ type: 'object', properties: {} }), undefined);
    assert.equal(toFunctionParameters({ type: 'object', additionalProperties: false }), undefined);
    assert.deepEqual(toFunctionParameters({ type: 'object', properties: { a: { type: 'string' } } }), {
      type: 'object',
      properties: { a: { type: 'string' } },
    });
  });
});
