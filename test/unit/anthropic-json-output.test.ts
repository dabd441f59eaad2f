/** The schema transform for Anthropic's native structured outputs, and the synthetic tool's name. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  jsonToolNameFor,
  strictJsonSchema,
  syntheticToolName,
} from '../../src/providers/anthropic/json-output.ts';

describe('strictJsonSchema', () => {
  it('closes every object, keeps required, and moves unsupported constraints into the description', () => {
    assert.deepEqual(
      strictJsonSchema({
        $schema: 'http://json-schema.org/draft-07/schema#',
        type: 'object',
        description: 'A person',
        properties: {
          name: { type: 'string', minLength: 1, format: 'email' },
          age: { type: 'integer', minimum: 0, maximum: 150 },
          tags: { type: 'array', items: { type: 'string', pattern: '^[a-z]+$' }, minItems: 2 },
          address: { type: 'object', properties: { city: { type: 'string' } }, additionalProperties: true },
        },
        required: ['name'],
      }),
      {
        type: 'object',
        description: 'A person',
        properties: {
          name: { type: 'string', format: 'email', description: '{minLength: 1}' },
          age: { type: 'integer', description: '{minimum: 0, maximum: 150}' },
          tags: {
            type: 'array',
            items: { type: 'string', description: '{pattern: "^[a-z]+$"}' },
            description: '{minItems: 2}',
          },
          address: { type: 'object', properties: { city: { type: 'string' } }, additionalProperties: false },
        },
        additionalProperties: false,
        required: ['name'],
      },
    );
  });

  it('keeps enums, consts, $defs and $ref; oneOf becomes anyOf', () => {
    assert.deepEqual(
      strictJsonSchema({
        $defs: { color: { type: 'string', enum: ['red', 'blue'] } },
        type: 'object',
        properties: {
          color: { $ref: '#/$defs/color' },
          kind: { const: 'x' },
          value: { oneOf: [{ type: 'string' }, { type: 'object', properties: {} }] },
        },
      }),
      {
        $defs: { color: { enum: ['red', 'blue'] } },
        type: 'object',
        properties: {
          color: { $ref: '#/$defs/color' },
          kind: { const: 'x' },
          value: {
            anyOf: [{ type: 'string' }, { type: 'object', properties: {}, additionalProperties: false }],
          },
        },
        additionalProperties: false,
      },
    );
  });
});

describe('synthetic JSON tool name', () => {
  it('avoids client tool names, and only exists when JSON output was asked without a forced tool', () => {
    assert.equal(syntheticToolName([]), 'json_response');
    assert.equal(
      syntheticToolName([{ name: 'json_response' }, { name: 'json_response_2' }]),
      'json_response_3',
    );
    const base = {
      model: 'm',
      messages: [],
      stream: false,
      includeUsage: false,
      tools: [],
      stop: [],
      openai: { passthrough: {} },
    };
    assert.equal(jsonToolNameFor(base), undefined);
    assert.equal(jsonToolNameFor({ ...base, responseFormat: { type: 'text' } }), undefined);
    assert.equal(jsonToolNameFor({ ...base, responseFormat: { type: 'json_object' } }), 'json_response');
    assert.equal(
      jsonToolNameFor({ ...base, responseFormat: { type: 'json_object' }, toolChoice: { type: 'required' } }),
      undefined,
    );
  });
});
