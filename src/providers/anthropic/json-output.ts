import type { ChatRequest, FunctionTool } from '../../core/chat.ts';
import { unsupportedParameter } from '../../core/errors.ts';
import type { ModelTraits } from './catalog.ts';

/**
 * OpenAI's `response_format` on the Messages API, two ways:
 * - `json_schema` on models with structured outputs: native `output_config.format`, the answer is
 *   plain text holding the JSON, nothing to undo when decoding;
 * - otherwise (`json_object`, or older models): a synthetic tool whose input schema is the wanted
 *   document, forced with `tool_choice`; the decoder turns that tool's input back into text and
 *   its `tool_use` stop into `stop` (vercel/ai's approach, reference docs/translation.md).
 * Models that refuse forced tool use (Claude Opus 5.5, Fable 5.1) cannot take the second way.
 */
export type JsonOutputPlan =
  | { kind: 'native'; schema: Record<string, unknown> }
  | { kind: 'tool'; tool: FunctionTool };

const TOOL_DESCRIPTION = 'Respond with a JSON object.';
const ANY_OBJECT: Record<string, unknown> = { type: 'object' };

/** A name no client tool uses, so the synthetic tool is recognisable in the answer. */
export function syntheticToolName(tools: readonly FunctionTool[]): string {
  const taken = new Set(tools.map((t) => t.name));
  let name = 'json_response';
  for (let i = 2; taken.has(name); i++) name = `json_response_${i}`;
  return name;
}

/**
 * The synthetic tool's name when the request could have used one, for the decoder. Only the
 * encoder knows the model; the name alone is enough, as no client tool can carry it.
 */
export function jsonToolNameFor(request: ChatRequest): string | undefined {
  const format = request.responseFormat;
  if (!format || format.type === 'text') return undefined;
  const choice = request.toolChoice?.type;
  if (choice === 'required' || choice === 'function') return undefined;
  return syntheticToolName(request.tools);
}

/**
 * Decides how the request's `response_format` reaches Anthropic. Undefined when there is nothing
 * to do: no JSON format, or a tool choice (`required`, named) whose answer is tool calls anyway.
 */
export function planJsonOutput(request: ChatRequest, traits: ModelTraits): JsonOutputPlan | undefined {
  const format = request.responseFormat;
  if (!format || format.type === 'text') return undefined;
  const choice = request.toolChoice?.type;
  if (choice === 'required' || choice === 'function') return undefined;
  const schema = format.type === 'json_schema' ? format.schema : undefined;
  if (schema && traits.structuredOutputs) return { kind: 'native', schema: strictJsonSchema(schema) };
  if (!traits.forcedToolChoice) {
    throw unsupportedParameter(
      'response_format',
      'Anthropic',
      `this model refuses forced tool use, so ${format.type} cannot be emulated; send json_schema with a schema`,
    );
  }
  const description =
    format.type === 'json_schema' ? (format.description ?? TOOL_DESCRIPTION) : TOOL_DESCRIPTION;
  return {
    kind: 'tool',
    tool: { name: syntheticToolName(request.tools), description, parameters: schema ?? ANY_OBJECT },
  };
}

const STRING_FORMATS = new Set([
  'date-time',
  'time',
  'date',
  'duration',
  'email',
  'hostname',
  'uri',
  'ipv4',
  'ipv6',
  'uuid',
]);

type Schema = Record<string, unknown>;

const isSchema = (value: unknown): value is Schema =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isPrimitive = (value: unknown) => value === null || typeof value !== 'object';

/**
 * Anthropic's structured outputs take a JSON Schema subset: every object closed
 * (`additionalProperties: false`), no numeric or length constraints, `minItems` 0 or 1 only, a few
 * string formats. OpenAI's non-strict schemas rarely fit, so unsupported keywords move into the
 * description (where the model still reads them), as Anthropic's own SDKs do.
 */
export function strictJsonSchema(schema: Schema): Schema {
  const rest: Schema = { ...schema };
  const take = (key: string): unknown => {
    const value = rest[key];
    delete rest[key];
    return value;
  };
  const out: Schema = {};
  const defs = take('$defs');
  if (isSchema(defs)) {
    out.$defs = Object.fromEntries(
      Object.entries(defs).map(([k, v]) => [k, isSchema(v) ? strictJsonSchema(v) : v]),
    );
  }
  const ref = take('$ref');
  if (typeof ref === 'string') return { ...out, $ref: ref };
  take('$schema');
  const literals: string[] = [];
  const values = rest.enum;
  if (Array.isArray(values) && values.length > 0 && values.every(isPrimitive)) {
    out.enum = take('enum');
    literals.push('enum');
  }
  if (rest.const !== undefined && isPrimitive(rest.const)) {
    out.const = take('const');
    literals.push('const');
  }
  const type = take('type');
  const anyOf = take('anyOf');
  const oneOf = take('oneOf');
  const variants = Array.isArray(anyOf) ? anyOf : oneOf;
  const allOf = take('allOf');
  const sub = (list: unknown[]) => list.map((v) => (isSchema(v) ? strictJsonSchema(v) : v));
  if (Array.isArray(variants)) out.anyOf = sub(variants);
  else if (Array.isArray(allOf)) out.allOf = sub(allOf);
  else if (literals.length === 0 && type !== undefined) out.type = type;
  for (const key of ['description', 'title']) {
    const value = take(key);
    if (typeof value === 'string') out[key] = value;
  }
  if (type === 'object') {
    const properties = take('properties');
    out.properties = Object.fromEntries(
      Object.entries(isSchema(properties) ? properties : {}).map(([k, v]) => [
        k,
        isSchema(v) ? strictJsonSchema(v) : v,
      ]),
    );
    take('additionalProperties');
    out.additionalProperties = false;
    const required = take('required');
    if (Array.isArray(required)) out.required = required;
  } else if (type === 'string') {
    const format = rest.format;
    if (typeof format === 'string' && STRING_FORMATS.has(format)) out.format = take('format');
  } else if (type === 'array') {
    const items = take('items');
    if (isSchema(items)) out.items = strictJsonSchema(items);
    if (rest.minItems === 0 || rest.minItems === 1) out.minItems = take('minItems');
  }
  const leftover = Object.entries(rest);
  if (leftover.length > 0) {
    const note = `{${leftover.map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(', ')}}`;
    out.description = typeof out.description === 'string' ? `${out.description}\n\n${note}` : note;
  }
  return out;
}
