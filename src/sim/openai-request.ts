/**
 * Validates an OpenAI-shaped chat body (as OpenAI, Azure OpenAI and vLLM accept it) and turns it
 * into the engine's neutral request. Messages and codes follow OpenAI's real 400s, so a gateway
 * that sends a malformed body gets the answer the cloud would give, naming the field.
 */

import type { SimMessage, SimRequest, SimResponseFormat, SimTool, SimToolChoice } from './engine.ts';

export interface ApiError {
  status: number;
  message: string;
  type?: string | null;
  param?: string | null;
  code?: string | null;
}

export interface ChatParseOptions {
  /** Reject unknown fields and tool messages that answer no call (OpenAI and Azure do; vLLM does not). */
  strict: boolean;
  /** Extra body fields this cloud accepts on top of OpenAI's. */
  extraFields?: readonly string[];
}

export interface ParsedChat {
  request: Omit<SimRequest, 'model' | 'label'>;
  stream: boolean;
  includeUsage: boolean;
  includeObfuscation: boolean;
}

// biome-ignore format: a dense list reads better than one field per line
const CHAT_FIELDS = new Set([
  'model', 'messages', 'stream', 'stream_options', 'n', 'max_tokens', 'max_completion_tokens', 'stop',
  'temperature', 'top_p', 'frequency_penalty', 'presence_penalty', 'logit_bias', 'logprobs', 'top_logprobs',
  'seed', 'user', 'safety_identifier', 'prompt_cache_key', 'prompt_cache_retention', 'prompt_cache_options',
  'metadata', 'store', 'service_tier', 'reasoning_effort', 'verbosity', 'modalities', 'audio', 'prediction',
  'web_search_options', 'tools', 'tool_choice', 'parallel_tool_calls', 'response_format', 'functions',
  'function_call', 'moderation',
]);

// The deprecated `function` role is not simulated.
const ROLES = ['system', 'assistant', 'user', 'tool', 'developer'];
const USER_PARTS = ['text', 'image_url', 'input_audio', 'file'];
const NAME_RE = /^[a-zA-Z0-9_-]{1,64}$/;

/** Thrown inside the parser and turned into the cloud's error body by the caller. */
class Invalid extends Error {
  readonly error: ApiError;
  constructor(message: string, param: string | null, code: string | null) {
    super(message);
    this.error = { status: 400, message, type: 'invalid_request_error', param, code };
  }
}

const quoteList = (values: string[]) =>
  values.length > 1
    ? `${values
        .slice(0, -1)
        .map((v) => `'${v}'`)
        .join(', ')}, and '${values.at(-1)}'`
    : `'${values[0]}'`;
const typeName = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : `a ${typeof v}`);
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function missing(param: string): ApiError {
  return new Invalid(`Missing required parameter: '${param}'.`, param, 'missing_required_parameter').error;
}

function missingParam(param: string): never {
  throw new Invalid(`Missing required parameter: '${param}'.`, param, 'missing_required_parameter');
}

function invalidType(param: string, expected: string, got: unknown): never {
  throw new Invalid(
    `Invalid type for '${param}': expected ${expected}, but got ${typeName(got)} instead.`,
    param,
    'invalid_type',
  );
}

function invalidValue(param: string, value: unknown, supported: string[]): never {
  throw new Invalid(
    `Invalid value: '${String(value)}'. Supported values are: ${quoteList(supported)}.`,
    param,
    'invalid_value',
  );
}

function number(body: Record<string, unknown>, key: string, min: number, max: number, integer: boolean) {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || (integer && !Number.isInteger(v))) {
    invalidType(key, integer ? 'an integer' : 'a decimal', v);
  }
  const kind = integer ? 'integer' : 'decimal';
  if (v > max) {
    throw new Invalid(
      `Invalid '${key}': ${kind} above maximum value. Expected a value <= ${max}, but got ${v} instead.`,
      key,
      `${kind}_above_max_value`,
    );
  }
  if (v < min) {
    throw new Invalid(
      `Invalid '${key}': ${kind} below minimum value. Expected a value >= ${min}, but got ${v} instead.`,
      key,
      `${kind}_below_min_value`,
    );
  }
  return v;
}

function boolean(body: Record<string, unknown>, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') invalidType(key, 'a boolean', v);
  return v;
}

/** Text of a content value (string or parts); counts image parts for user messages. */
function content(value: unknown, param: string, allowed: string[]): { text: string; images: number } {
  if (typeof value === 'string') return { text: value, images: 0 };
  if (!Array.isArray(value)) return invalidType(param, 'one of a string or array of objects', value);
  const texts: string[] = [];
  let images = 0;
  for (const [i, part] of value.entries()) {
    const at = `${param}[${i}]`;
    if (!isObject(part)) invalidType(at, 'an object', part);
    if (typeof part.type !== 'string') missingParam(`${at}.type`);
    if (!allowed.includes(part.type)) invalidValue(`${at}.type`, part.type, allowed);
    if (part.type === 'text' || part.type === 'refusal') {
      const key = part.type === 'text' ? 'text' : 'refusal';
      if (typeof part[key] !== 'string') invalidType(`${at}.${key}`, 'a string', part[key]);
      if (part.type === 'text') texts.push(part.text as string);
    } else if (part.type === 'image_url') {
      const image = part.image_url;
      if (!isObject(image) || typeof image.url !== 'string') {
        missingParam(`${at}.image_url.url`);
      }
      images++;
    }
  }
  return { text: texts.join(' '), images };
}

function toolCallIds(value: unknown, param: string): string[] {
  if (!Array.isArray(value)) invalidType(param, 'an array', value);
  return value.map((call, i) => {
    const at = `${param}[${i}]`;
    if (!isObject(call)) invalidType(at, 'an object', call);
    if (typeof call.id !== 'string') missingParam(`${at}.id`);
    const fn = call.function;
    if (!isObject(fn) || typeof fn.name !== 'string' || typeof fn.arguments !== 'string') {
      missingParam(`${at}.function`);
    }
    return call.id;
  });
}

function message(value: unknown, i: number): SimMessage {
  const at = `messages[${i}]`;
  if (!isObject(value)) invalidType(at, 'an object', value);
  const role = value.role;
  if (role === undefined) missingParam(`${at}.role`);
  if (typeof role !== 'string' || !ROLES.includes(role)) {
    invalidValue(`${at}.role`, role, ROLES);
  }
  if (role === 'assistant') {
    const ids =
      value.tool_calls === undefined || value.tool_calls === null
        ? []
        : toolCallIds(value.tool_calls, `${at}.tool_calls`);
    const body =
      value.content === undefined || value.content === null
        ? { text: '', images: 0 }
        : content(value.content, `${at}.content`, ['text', 'refusal']);
    if (value.content == null && ids.length === 0) {
      missingParam(`${at}.content`);
    }
    return { role: 'assistant', text: body.text, images: 0, ...(ids.length > 0 ? { toolCallIds: ids } : {}) };
  }
  if (value.content === undefined || value.content === null) {
    missingParam(`${at}.content`);
  }
  if (role === 'tool') {
    if (typeof value.tool_call_id !== 'string') {
      missingParam(`${at}.tool_call_id`);
    }
    return {
      role: 'tool',
      ...content(value.content, `${at}.content`, ['text']),
      toolCallId: value.tool_call_id,
    };
  }
  const body = content(value.content, `${at}.content`, role === 'user' ? USER_PARTS : ['text']);
  return { role: role as 'system' | 'developer' | 'user', ...body };
}

/** OpenAI's pairing rule: every tool call is answered, and every tool message answers a call. */
function checkToolPairing(messages: SimMessage[]): void {
  let pending: Set<string> | undefined;
  let owner = -1;
  const unanswered = () => {
    if (pending && pending.size > 0) {
      throw new Invalid(
        `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${[...pending].join(', ')}`,
        `messages.[${owner}].role`,
        null,
      );
    }
  };
  for (const [i, m] of messages.entries()) {
    if (m.role === 'tool') {
      if (!pending?.delete(m.toolCallId ?? '')) {
        throw new Invalid(
          "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
          `messages.[${i}].role`,
          null,
        );
      }
      continue;
    }
    unanswered();
    pending = m.toolCallIds ? new Set(m.toolCallIds) : undefined;
    owner = i;
  }
  unanswered();
}

function tools(body: Record<string, unknown>): SimTool[] | undefined {
  const value = body.tools;
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) invalidType('tools', 'an array', value);
  return value.map((tool, i) => {
    const at = `tools[${i}]`;
    if (!isObject(tool)) invalidType(at, 'an object', tool);
    if (tool.type !== 'function') invalidValue(`${at}.type`, tool.type, ['function', 'custom']);
    const fn = tool.function;
    if (!isObject(fn)) missingParam(`${at}.function`);
    if (typeof fn.name !== 'string') missingParam(`${at}.function.name`);
    if (!NAME_RE.test(fn.name)) {
      throw new Invalid(
        `Invalid '${at}.function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.`,
        `${at}.function.name`,
        'invalid_value',
      );
    }
    if (fn.parameters !== undefined && !isObject(fn.parameters)) {
      invalidType(`${at}.function.parameters`, 'an object', fn.parameters);
    }
    return fn.parameters === undefined ? { name: fn.name } : { name: fn.name, parameters: fn.parameters };
  });
}

function toolChoice(
  body: Record<string, unknown>,
  defined: SimTool[] | undefined,
): SimToolChoice | undefined {
  const value = body.tool_choice;
  if (value === undefined || value === null) return undefined;
  if (!defined || defined.length === 0) {
    throw new Invalid(
      "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
      'tool_choice',
      null,
    );
  }
  if (value === 'none' || value === 'auto' || value === 'required') return value;
  if (typeof value === 'string') invalidValue('tool_choice', value, ['none', 'auto', 'required']);
  if (!isObject(value) || !isObject(value.function) || typeof value.function.name !== 'string') {
    missingParam('tool_choice.function.name');
  }
  const name = value.function.name;
  if (!defined.some((t) => t.name === name)) {
    throw new Invalid(
      `Invalid value for 'tool_choice': function '${name}' is not among the defined tools.`,
      'tool_choice',
      'invalid_value',
    );
  }
  return { name };
}

function responseFormat(body: Record<string, unknown>): SimResponseFormat | undefined {
  const value = body.response_format;
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) invalidType('response_format', 'an object', value);
  if (value.type === 'text' || value.type === 'json_object') return { type: value.type };
  if (value.type !== 'json_schema') {
    invalidValue('response_format.type', value.type, ['text', 'json_object', 'json_schema']);
  }
  const spec = value.json_schema;
  if (!isObject(spec)) missingParam('response_format.json_schema');
  if (typeof spec.name !== 'string') {
    missingParam('response_format.json_schema.name');
  }
  return { type: 'json_schema', schema: spec.schema };
}

function stop(body: Record<string, unknown>): string[] | undefined {
  const value = body.stop;
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value) || value.some((s) => typeof s !== 'string')) {
    invalidType('stop', 'one of a string or array of strings', value);
  }
  if (value.length > 4) {
    throw new Invalid(
      `Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array with length ${value.length} instead.`,
      'stop',
      'array_above_max_length',
    );
  }
  return value as string[];
}

function parse(body: Record<string, unknown>, options: ChatParseOptions): ParsedChat {
  if (options.strict) {
    for (const key of Object.keys(body)) {
      if (!CHAT_FIELDS.has(key) && !options.extraFields?.includes(key)) {
        throw new Invalid(`Unrecognized request argument supplied: ${key}`, null, null);
      }
    }
  }
  const rawMessages = body.messages;
  if (rawMessages === undefined) missingParam('messages');
  if (!Array.isArray(rawMessages)) invalidType('messages', 'an array', rawMessages);
  if (rawMessages.length === 0) {
    throw new Invalid(
      "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      'messages',
      'empty_array',
    );
  }
  const messages = rawMessages.map(message);
  if (options.strict) checkToolPairing(messages);

  const stream = boolean(body, 'stream') ?? false;
  const streamOptions = body.stream_options;
  if (streamOptions !== undefined && streamOptions !== null) {
    if (!stream) {
      throw new Invalid(
        "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
        'stream_options',
        null,
      );
    }
    if (!isObject(streamOptions)) invalidType('stream_options', 'an object', streamOptions);
  }
  const so = isObject(streamOptions) ? streamOptions : {};
  // Sampling values are only range-checked: the simulated model is deterministic anyway.
  number(body, 'temperature', 0, 2, false);
  number(body, 'frequency_penalty', -2, 2, false);
  number(body, 'presence_penalty', -2, 2, false);
  number(body, 'top_p', 0, 1, false);
  const definedTools = tools(body);
  const choice = toolChoice(body, definedTools);
  const parallel = boolean(body, 'parallel_tool_calls');
  if (options.strict && parallel !== undefined && !definedTools?.length) {
    throw new Invalid(
      "Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when 'tools' are specified.",
      'parallel_tool_calls',
      null,
    );
  }
  const maxTokens =
    number(body, 'max_completion_tokens', 1, Number.MAX_SAFE_INTEGER, true) ??
    number(body, 'max_tokens', 1, Number.MAX_SAFE_INTEGER, true);
  const format = responseFormat(body);
  const stops = stop(body);
  const request: ParsedChat['request'] = {
    messages,
    n: number(body, 'n', 1, 128, true) ?? 1,
    ...(definedTools ? { tools: definedTools } : {}),
    ...(choice ? { toolChoice: choice } : {}),
    ...(parallel !== undefined ? { parallelToolCalls: parallel } : {}),
    ...(maxTokens !== undefined ? { maxTokens } : {}),
    ...(stops ? { stop: stops } : {}),
    ...(format ? { responseFormat: format } : {}),
  };
  return {
    request,
    stream,
    includeUsage: so.include_usage === true,
    includeObfuscation: so.include_obfuscation !== false,
  };
}

/** Parses a chat body; returns the neutral request or the 400 to send. */
export function parseChatBody(body: unknown, options: ChatParseOptions): ParsedChat | ApiError {
  if (!isObject(body)) {
    return { status: 400, message: 'The request body must be a JSON object.', param: null };
  }
  try {
    return parse(body, options);
  } catch (error) {
    if (error instanceof Invalid) return error.error;
    throw error;
  }
}

export function isApiError(value: unknown): value is ApiError {
  return isObject(value) && typeof value.status === 'number' && typeof value.message === 'string';
}
