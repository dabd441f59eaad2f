/**
 * A GenerateContentRequest (Gemini API and Vertex AI reference: Request body) checked the way Gemini checks it and turned into the
 * engine's neutral SimRequest. The checks are the ones gateways trip over (docs/translation.md):
 * unknown fields (pitfall 13), role alternation (10), the function-response count (9), `id` on
 * function parts on Vertex (11), and Gemini 3 thought signatures in the current turn (12).
 */

import type { SimMessage, SimRequest, SimTool, SimToolChoice } from './engine.ts';
import { type GoogleError, type GoogleFlavour, invalidArgument, unknownField } from './google-errors.ts';
import { camel, checkParameters, checkSchema, lowerTypes, snake } from './google-schema.ts';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const REQUEST_FIELDS = [
  'contents',
  'systemInstruction',
  'generationConfig',
  'safetySettings',
  'tools',
  'toolConfig',
  'cachedContent',
  'model',
];
const PART_FIELDS = new Set([
  'text',
  'inlineData',
  'fileData',
  'functionCall',
  'functionResponse',
  'executableCode',
  'codeExecutionResult',
  'thought',
  'thoughtSignature',
  'videoMetadata',
  'mediaResolution',
  'partMetadata',
]);
const DATA_FIELDS = [
  'text',
  'inlineData',
  'fileData',
  'functionCall',
  'functionResponse',
  'executableCode',
  'codeExecutionResult',
];
const GENERATION_FIELDS = new Set([
  'temperature',
  'topP',
  'topK',
  'candidateCount',
  'maxOutputTokens',
  'stopSequences',
  'presencePenalty',
  'frequencyPenalty',
  'seed',
  'responseMimeType',
  'responseSchema',
  'responseJsonSchema',
  'responseLogprobs',
  'logprobs',
  'thinkingConfig',
  'responseModalities',
  'mediaResolution',
  'speechConfig',
  'routingConfig',
  'imageConfig',
  'enableEnhancedCivicAnswers',
]);
const FUNCTION_NAME = /^[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export const MISSING_SIGNATURE =
  'Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance.';

export interface ParseContext {
  flavour: GoogleFlavour;
  model: string;
  label: string;
}

/** Reads an object's fields in camelCase whichever spelling the client used. */
function fields(value: Json): Json {
  const out: Json = {};
  for (const [key, v] of Object.entries(value)) out[camel(key)] = v;
  return out;
}

function unknownIn(value: Json, allowed: Iterable<string>, at: string): GoogleError | undefined {
  const known = new Set(allowed);
  const bad = Object.keys(value).find((key) => !known.has(camel(key)));
  return bad === undefined ? undefined : unknownField(bad, at);
}

const texts = (parts: Json[]): string =>
  parts
    .map((p) => p.text)
    .filter((t): t is string => typeof t === 'string' && t !== '')
    .join(' ');

/** A functionResponse's text for the engine's "Tool results" reply. */
function resultText(response: Json): string {
  return typeof response.content === 'string' && Object.keys(response).length === 1
    ? response.content
    : JSON.stringify(response);
}

export function parseGenerateContent(body: unknown, ctx: ParseContext): SimRequest | GoogleError {
  if (!isObject(body)) return invalidArgument('Invalid JSON payload received. Expected an object.');
  const allowed = ctx.flavour === 'vertex' ? [...REQUEST_FIELDS, 'labels'] : REQUEST_FIELDS;
  const unknown = unknownIn(body, allowed, '');
  if (unknown) return unknown;
  const b = fields(body);
  if (!Array.isArray(b.contents) || b.contents.length === 0) {
    return invalidArgument('* GenerateContentRequest.contents: contents is not specified');
  }
  const messages: SimMessage[] = [];
  const system = isObject(b.systemInstruction) ? b.systemInstruction : undefined;
  if (system && Array.isArray(system.parts)) {
    const text = texts(system.parts.filter(isObject));
    if (text) messages.push({ role: 'system', text, images: 0 });
  }

  const contents: { role: string; parts: Json[] }[] = [];
  for (const [i, raw] of b.contents.entries()) {
    if (!isObject(raw)) return invalidArgument(`Invalid value at 'contents[${i}]'`);
    const content = fields(raw);
    const role = content.role ?? 'user';
    if (role !== 'user' && role !== 'model') return invalidArgument('Please use a valid role: user, model.');
    if (!Array.isArray(content.parts) || content.parts.length === 0) {
      return invalidArgument(
        `* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.`,
      );
    }
    const parts: Json[] = [];
    for (const [j, rawPart] of content.parts.entries()) {
      const at = `contents[${i}].parts[${j}]`;
      if (!isObject(rawPart)) return invalidArgument(`Invalid value at '${at}'`);
      const problem = unknownIn(rawPart, PART_FIELDS, at) ?? checkPart(fields(rawPart), at, ctx.flavour);
      if (problem) return problem;
      parts.push(fields(rawPart));
    }
    if (contents.at(-1)?.role === role) {
      return invalidArgument('Please ensure that multiturn requests alternate between user and model.');
    }
    contents.push({ role, parts });
  }
  const turnProblem = checkFunctionTurns(contents) ?? checkSignatures(contents, ctx.model);
  if (turnProblem) return turnProblem;

  for (const { role, parts } of contents) {
    if (role === 'model') {
      const calls = parts.flatMap((p) => (isObject(p.functionCall) ? [fields(p.functionCall)] : []));
      messages.push({
        role: 'assistant',
        text: texts(parts),
        images: 0,
        ...(calls.length > 0 ? { toolCallIds: calls.map((c) => String(c.id ?? c.name)) } : {}),
      });
      continue;
    }
    for (const p of parts) {
      if (!isObject(p.functionResponse)) continue;
      const r = fields(p.functionResponse);
      messages.push({
        role: 'tool',
        text: resultText(r.response as Json),
        images: 0,
        toolCallId: String(r.id ?? r.name),
      });
    }
    const images = parts.filter((p) => p.inlineData !== undefined || p.fileData !== undefined).length;
    const text = texts(parts);
    if (text || images > 0) messages.push({ role: 'user', text, images });
  }

  const request: SimRequest = { model: ctx.model, label: ctx.label, messages };
  const toolsProblem = readTools(b, request);
  if (toolsProblem) return toolsProblem;
  return readGenerationConfig(b.generationConfig, request) ?? request;
}

function checkPart(part: Json, at: string, flavour: GoogleFlavour): GoogleError | undefined {
  const data = DATA_FIELDS.filter((f) => part[f] !== undefined);
  if (data.length !== 1) {
    return invalidArgument(
      `* GenerateContentRequest.${at}.data: required oneof field 'data' must have one initialized field`,
    );
  }
  for (const [field, allowedKeys] of [
    ['functionCall', ['id', 'name', 'args', 'partialArgs', 'willContinue']],
    ['functionResponse', ['id', 'name', 'response', 'parts', 'willContinue', 'scheduling']],
  ] as const) {
    const value = part[field];
    if (value === undefined) continue;
    const where = `${at}.${snake(field)}`;
    if (!isObject(value)) return invalidArgument(`Invalid value at '${where}'`);
    // Vertex has no `id` on function parts (pitfall 11); the Gemini API does.
    const keys = flavour === 'vertex' ? allowedKeys.filter((k) => k !== 'id') : allowedKeys;
    const problem = unknownIn(value, keys, where);
    if (problem) return problem;
    const v = fields(value);
    if (typeof v.name !== 'string' || v.name === '')
      return invalidArgument(`* GenerateContentRequest.${where}.name: Name cannot be empty.`);
    if (field === 'functionResponse' && !isObject(v.response)) {
      return invalidArgument(
        `Invalid value at '${where}.response' (type.googleapis.com/google.protobuf.Struct)`,
      );
    }
  }
  if (part.inlineData !== undefined) {
    const inline = isObject(part.inlineData) ? fields(part.inlineData) : {};
    if (typeof inline.mimeType !== 'string' || inline.mimeType === '') {
      return invalidArgument(`* GenerateContentRequest.${at}.inline_data.mime_type: mime_type must be set.`);
    }
    if (typeof inline.data !== 'string' || !BASE64.test(inline.data) || inline.data === '') {
      return invalidArgument(
        `Invalid value at '${at}.inline_data.data' (TYPE_BYTES), Base64 decoding failed.`,
      );
    }
  }
  return undefined;
}

/** Pitfall 9: a function-call turn is answered by the next content with exactly as many responses. */
function checkFunctionTurns(contents: { role: string; parts: Json[] }[]): GoogleError | undefined {
  for (const [i, content] of contents.entries()) {
    const responses = content.parts.filter((p) => p.functionResponse !== undefined).length;
    const previous = contents[i - 1];
    const calls =
      previous?.role === 'model' ? previous.parts.filter((p) => p.functionCall !== undefined).length : 0;
    if (responses > 0 && calls === 0) {
      return invalidArgument(
        'Please ensure that function response turn comes immediately after a function call turn.',
      );
    }
    if (calls > 0 && content.role === 'user' && responses !== calls) {
      return invalidArgument(
        'Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.',
      );
    }
  }
  return undefined;
}

/** Pitfall 12: Gemini 3 wants the first call of each step in the current turn signed. */
function checkSignatures(
  contents: { role: string; parts: Json[] }[],
  model: string,
): GoogleError | undefined {
  if (!/(^|\/)gemini-3/.test(model)) return undefined;
  // The current turn starts after the last user content that is not only function responses.
  let start = 0;
  contents.forEach((c, i) => {
    if (c.role === 'user' && c.parts.some((p) => p.functionResponse === undefined)) start = i + 1;
  });
  for (let i = start; i < contents.length; i++) {
    const first = contents[i]?.parts.findIndex((p) => p.functionCall !== undefined) ?? -1;
    const part = contents[i]?.parts[first];
    if (contents[i]?.role === 'model' && part && typeof part.thoughtSignature !== 'string') {
      return invalidArgument(
        `${MISSING_SIGNATURE} Additional data, function call \`default_api:${String((part.functionCall as Json).name)}\` , position ${i + 1}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.`,
      );
    }
  }
  return undefined;
}

function readTools(b: Json, request: SimRequest): GoogleError | undefined {
  const tools: SimTool[] = [];
  for (const [i, rawTool] of (Array.isArray(b.tools) ? b.tools : []).entries()) {
    if (!isObject(rawTool)) return invalidArgument(`Invalid value at 'tools[${i}]'`);
    const tool = fields(rawTool);
    for (const [k, raw] of (Array.isArray(tool.functionDeclarations)
      ? tool.functionDeclarations
      : []
    ).entries()) {
      const at = `tools[${i}].function_declarations[${k}]`;
      if (!isObject(raw)) return invalidArgument(`Invalid value at '${at}'`);
      const unknown = unknownIn(
        raw,
        [
          'name',
          'description',
          'parameters',
          'parametersJsonSchema',
          'response',
          'responseJsonSchema',
          'behavior',
        ],
        at,
      );
      if (unknown) return unknown;
      const d = fields(raw);
      if (typeof d.name !== 'string' || !FUNCTION_NAME.test(d.name)) {
        return invalidArgument(
          `* GenerateContentRequest.${at}.name: Invalid function name. Must start with a letter or an underscore. Must be alphameric (a-z, A-Z, 0-9), underscores (_), dots (.), colons (:), or dashes (-), with a maximum length of 64.`,
        );
      }
      if (d.parameters !== undefined) {
        const problem = checkParameters(d.parameters, `${at}.parameters`);
        if (problem) return problem;
      }
      const parameters = d.parameters !== undefined ? lowerTypes(d.parameters) : d.parametersJsonSchema;
      tools.push({ name: d.name, ...(parameters === undefined ? {} : { parameters }) });
    }
  }
  if (tools.length > 0) request.tools = tools;
  const config = isObject(b.toolConfig) ? fields(b.toolConfig) : {};
  const calling = isObject(config.functionCallingConfig) ? fields(config.functionCallingConfig) : undefined;
  if (!calling) return undefined;
  const mode = calling.mode ?? 'AUTO';
  const names = Array.isArray(calling.allowedFunctionNames) ? calling.allowedFunctionNames.map(String) : [];
  if (!['AUTO', 'ANY', 'NONE', 'VALIDATED', 'MODE_UNSPECIFIED'].includes(String(mode))) {
    return invalidArgument(
      `Invalid value at 'tool_config.function_calling_config.mode' (type.googleapis.com/google.ai.generativelanguage.v1beta.FunctionCallingConfig.Mode), ${JSON.stringify(mode)}`,
    );
  }
  if (names.length > 0 && mode !== 'ANY' && mode !== 'VALIDATED') {
    return invalidArgument(
      '* GenerateContentRequest.tool_config.function_calling_config.allowed_function_names: only allowed when mode is ANY or VALIDATED.',
    );
  }
  let choice: SimToolChoice = mode === 'NONE' ? 'none' : mode === 'ANY' ? 'required' : 'auto';
  if (names.length === 1) choice = { name: names[0] ?? '' };
  else if (names.length > 1) request.tools = tools.filter((t) => names.includes(t.name));
  request.toolChoice = choice;
  return undefined;
}

function readGenerationConfig(raw: unknown, request: SimRequest): GoogleError | undefined {
  if (raw === undefined) return undefined;
  if (!isObject(raw)) return invalidArgument("Invalid value at 'generation_config'");
  const unknown = unknownIn(raw, GENERATION_FIELDS, 'generation_config');
  if (unknown) return unknown;
  const g = fields(raw);
  if (typeof g.maxOutputTokens === 'number') request.maxTokens = g.maxOutputTokens;
  if (Array.isArray(g.stopSequences)) request.stop = g.stopSequences.map(String);
  if (g.candidateCount !== undefined) {
    if (typeof g.candidateCount !== 'number' || g.candidateCount < 1 || g.candidateCount > 8) {
      return invalidArgument(
        '* GenerateContentRequest.generation_config.candidate_count: must be in the range [1, 8].',
      );
    }
    request.n = g.candidateCount;
  }
  if (g.responseSchema !== undefined) {
    const problem = checkSchema(g.responseSchema, 'generation_config.response_schema');
    if (problem) return problem;
  }
  const schema = g.responseSchema !== undefined ? lowerTypes(g.responseSchema) : g.responseJsonSchema;
  if (schema !== undefined && g.responseMimeType !== 'application/json') {
    return invalidArgument(
      '* GenerateContentRequest.generation_config.response_mime_type: allowed mimetypes are `application/json` when response_schema is set.',
    );
  }
  if (g.responseMimeType === 'application/json') {
    request.responseFormat = schema === undefined ? { type: 'json_object' } : { type: 'json_schema', schema };
  }
  return undefined;
}
