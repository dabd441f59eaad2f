/**
 * Turns zod issues into `<path>: <expectation>` problems in the project's own words. Messages are
 * built from the issue's structure and from values the redactor allows, never from zod's default
 * text with the input in it, so a credential cannot leak through a validation error.
 */
import { z } from 'zod';
import type { PathSegment } from './interpolate.ts';
import { suggestionSuffix } from './problems.ts';
import { describeKind, type Redactor } from './redaction.ts';
import { providerCommonSchema } from './schema.ts';

export interface PathProblem {
  path: PathSegment[];
  message: string;
}

export function schemaIssuesToProblems(
  issues: readonly z.core.$ZodIssue[],
  schema: z.ZodType,
  redactor: Redactor,
): PathProblem[] {
  const problems: PathProblem[] = [];
  for (const issue of issues) {
    const path = issue.path.map((s): PathSegment => (typeof s === 'number' ? s : String(s)));
    if (issue.code === 'unrecognized_keys') {
      const allowed = allowedKeysAt(schema, path, redactor.valueAt([]));
      for (const key of issue.keys) {
        const hint = suggestionSuffix(key, allowed);
        const message =
          hint || allowed.length === 0
            ? `unknown key${hint}`
            : `unknown key (allowed: ${allowed.join(', ')})`;
        problems.push({ path: [...path, key], message });
      }
      continue;
    }
    problems.push({ path, message: describeIssue(issue, path, redactor) });
    if (issue.code === 'invalid_union' && issue.discriminator === 'type' && path[0] === 'providers') {
      problems.push(...commonProviderProblems(path.slice(0, -1), redactor));
    }
  }
  return problems;
}

/** A provider with a wrong `type` still gets its shared fields (id, endpoint, ...) checked. */
function commonProviderProblems(providerPath: PathSegment[], redactor: Redactor): PathProblem[] {
  const result = providerCommonSchema.safeParse(redactor.valueAt(providerPath), { reportInput: true });
  if (result.success) return [];
  return result.error.issues
    .filter((issue) => issue.code !== 'invalid_type' || issue.path.length > 0)
    .map((issue) => {
      const path = [
        ...providerPath,
        ...issue.path.map((s): PathSegment => (typeof s === 'number' ? s : String(s))),
      ];
      return { path, message: describeIssue(issue, path, redactor) };
    });
}

function describeIssue(issue: z.core.$ZodIssue, path: PathSegment[], redactor: Redactor): string {
  const value = redactor.valueAt(path);
  const quoted = redactor.quote(path);
  const got = quoted === undefined ? '' : ` (got ${quoted})`;
  switch (issue.code) {
    case 'invalid_type':
      // `issue.input` (not the raw value): an empty secret "" reaches the schema as undefined.
      if (issue.input === undefined) return 'required';
      // YAML reads `apiKey: 0123` as a number (and drops the zero): quoting keeps it text.
      if (issue.expected === 'string' && (typeof value === 'number' || typeof value === 'boolean')) {
        return `expected a string (got ${quoted ?? describeKind(value)}; put it in quotes)`;
      }
      return `expected ${typeName(issue.expected)} (got ${quoted ?? describeKind(value)})`;
    case 'invalid_value':
      return `${value === undefined ? 'required; ' : ''}expected ${oneOf(issue.values)}${got}`;
    case 'invalid_union':
      if (issue.discriminator !== undefined && 'options' in issue && issue.options) {
        return `${value === undefined ? 'required; ' : ''}expected ${oneOf(issue.options)}${got}`;
      }
      return `does not match any allowed form${got}`;
    case 'too_small':
      return `${tooSmall(issue)}${got}`;
    case 'too_big':
      return `${tooBig(issue)}${got}`;
    case 'not_multiple_of':
      return `expected a multiple of ${issue.divisor}${got}`;
    case 'invalid_format':
      // Format checks carry messages written in schema.ts ("expected an http(s) URL").
      return `${issue.message}${got}`;
    case 'custom':
      return issue.message;
    case 'invalid_key':
      return 'invalid key';
    case 'invalid_element':
      return 'invalid entry';
    default:
      return 'invalid value';
  }
}

function oneOf(values: readonly unknown[]): string {
  const shown = values.map((v) => String(v));
  return shown.length === 1 ? shown[0]! : `one of ${shown.join(' | ')}`;
}

function typeName(expected: string): string {
  switch (expected) {
    case 'int':
      return 'an integer';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'true or false';
    case 'object':
    case 'record':
      return 'a mapping';
    case 'array':
      return 'a list';
    default:
      return `a ${expected}`;
  }
}

function tooSmall(issue: z.core.$ZodIssueTooSmall): string {
  const min = Number(issue.minimum);
  if (issue.origin === 'string') {
    return min <= 1 ? 'must not be empty' : `expected at least ${min} characters`;
  }
  if (issue.origin === 'array') {
    return min <= 1 ? 'expected a non-empty list' : `expected at least ${min} items`;
  }
  return `expected a number ${issue.inclusive ? '>=' : '>'} ${min}`;
}

function tooBig(issue: z.core.$ZodIssueTooBig): string {
  const max = Number(issue.maximum);
  if (issue.origin === 'string') return `expected at most ${max} characters`;
  if (issue.origin === 'array') return `expected at most ${max} items`;
  return `expected a number ${issue.inclusive ? '<=' : '<'} ${max}`;
}

/**
 * The keys the schema allows on the object at `path`. Walks the schema beside the data so a
 * provider entry is matched to the option for its `type` (an azure-openai entry suggests
 * `apiVersion`, a bedrock one `accessKeyId`).
 */
export function allowedKeysAt(schema: z.ZodType, path: readonly PathSegment[], root: unknown): string[] {
  let current: z.ZodType | undefined = schema;
  let value = root;
  for (const segment of [...path, undefined]) {
    current = current === undefined ? undefined : pickOption(unwrap(current), value);
    if (current === undefined || segment === undefined) break;
    value =
      value !== null && typeof value === 'object'
        ? (value as Record<PathSegment, unknown>)[segment]
        : undefined;
    if (current instanceof z.ZodObject) current = current.shape[segment] as z.ZodType | undefined;
    else if (current instanceof z.ZodArray) current = current.element as z.ZodType;
    else if (current instanceof z.ZodRecord) current = current.valueType as z.ZodType;
    else current = undefined;
  }
  return current instanceof z.ZodObject ? Object.keys(current.shape) : [];
}

/** Strips wrappers that do not change an object's keys: optional, default, preprocess, ... */
function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    if (
      current instanceof z.ZodOptional ||
      current instanceof z.ZodDefault ||
      current instanceof z.ZodPrefault ||
      current instanceof z.ZodNullable
    ) {
      current = current.unwrap() as z.ZodType;
    } else if (current instanceof z.ZodPipe) {
      current = current.out as z.ZodType;
    } else {
      return current;
    }
  }
}

/** For a discriminated union, the option whose discriminator literal matches the data. */
function pickOption(schema: z.ZodType, value: unknown): z.ZodType | undefined {
  if (!(schema instanceof z.ZodDiscriminatedUnion)) return schema;
  const discriminator = schema.def.discriminator;
  const tag =
    value !== null && typeof value === 'object'
      ? (value as Record<string, unknown>)[discriminator]
      : undefined;
  for (const option of schema.options as readonly z.ZodType[]) {
    const object = unwrap(option);
    if (!(object instanceof z.ZodObject)) continue;
    const literal = unwrap(object.shape[discriminator] as z.ZodType);
    if (literal instanceof z.ZodLiteral && literal.values.has(tag as never)) return object;
  }
  return undefined;
}
