/**
 * Validation of Messages API bodies with Anthropic's 400 messages (`<path>: <problem>`), and their
 * translation into the engine's neutral SimRequest. The checks are the ones a gateway's
 * translation can get wrong (Anthropic API reference: Request, pitfall 16): max_tokens, alternation, tool_result
 * placement and ids, text after tool_use, blank text, temperature 0-1, unknown fields, and closed
 * object schemas for structured outputs.
 *
 * Deliberately stricter than the first-party API in one place: consecutive same-role messages are
 * refused (as Bedrock-hosted Claude does), so a translation that passes here passes there too.
 */

import { createHash } from 'node:crypto';
import { countWords, type SimMessage, type SimRequest, type SimTool, type SimToolChoice } from './engine.ts';

export interface AnthropicApiError {
  status: number;
  type: string;
  message: string;
}

export interface ParsedMessages {
  model: string;
  stream: boolean;
  /** Everything the engine needs except model and label. */
  request: Omit<SimRequest, 'model' | 'label'>;
  /** The prompt up to the last `cache_control` breakpoint, for simulated prompt caching. */
  cachePrefix?: { key: string; tokens: number };
}

type Json = Record<string, unknown>;

const TOP_LEVEL = new Set([
  'model',
  'messages',
  'max_tokens',
  'system',
  'temperature',
  'top_p',
  'top_k',
  'stop_sequences',
  'stream',
  'metadata',
  'tools',
  'tool_choice',
  'thinking',
  'output_config',
  'service_tier',
  'container',
  'inference_geo',
  'cache_control',
  'context_management',
  'mcp_servers',
  'speed',
]);
const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);
const TOOL_ID = /^[a-zA-Z0-9_-]+$/;
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,128}$/;
const TOKENS_PER_IMAGE = 85;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const invalid = (message: string): AnthropicApiError => ({
  status: 400,
  type: 'invalid_request_error',
  message,
});

class Invalid extends Error {}
function fail(message: string): never {
  throw new Invalid(message);
}

/** Parses and validates a body; answers the native 400 on the first problem found. */
export function parseMessagesBody(body: unknown): ParsedMessages | AnthropicApiError {
  try {
    return parse(body);
  } catch (err) {
    if (err instanceof Invalid) return invalid(err.message);
    throw err;
  }
}

export function isApiError(value: ParsedMessages | AnthropicApiError): value is AnthropicApiError {
  return 'status' in value;
}

/** Accumulates the engine's view of the prompt and the cache-prefix size while blocks are read. */
class PromptTally {
  tokens = 0;
  readonly hash = createHash('sha256');
  prefix: { key: string; tokens: number } | undefined;
  add(block: Json, text: string, images: number): void {
    this.tokens += countWords(text) + TOKENS_PER_IMAGE * images;
    this.hash.update(JSON.stringify(block));
    if (block.cache_control !== undefined) {
      this.prefix = { key: this.hash.copy().digest('hex'), tokens: this.tokens };
    }
  }
}

function parse(body: unknown): ParsedMessages {
  if (!isObject(body)) fail('There was an error parsing the body of your request: expected a JSON object');
  for (const key of Object.keys(body))
    if (!TOP_LEVEL.has(key)) fail(`${key}: Extra inputs are not permitted`);
  if (typeof body.model !== 'string' || body.model === '') fail('model: Field required');
  const maxTokens = body.max_tokens;
  if (maxTokens === undefined) fail('max_tokens: Field required');
  if (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens))
    fail('max_tokens: Input should be a valid integer');
  if (maxTokens < 1) fail('max_tokens: Input should be greater than or equal to 1');
  checkRange(body.temperature, 'temperature', 0, 1);
  checkRange(body.top_p, 'top_p', 0, 1);
  if (body.stream !== undefined && typeof body.stream !== 'boolean')
    fail('stream: Input should be a valid boolean');
  const stop = stopSequences(body.stop_sequences);
  if (body.metadata !== undefined) {
    if (!isObject(body.metadata)) fail('metadata: Input should be a valid dictionary');
    const userId = body.metadata.user_id;
    if (userId !== undefined && userId !== null && typeof userId !== 'string') {
      fail('metadata.user_id: Input should be a valid string');
    }
  }
  const tally = new PromptTally();
  const messages: SimMessage[] = systemMessages(body.system, tally);
  messages.push(...conversation(body.messages, tally));
  const tools = toolList(body.tools);
  const request: ParsedMessages['request'] = { messages, maxTokens, n: 1 };
  if (tools) request.tools = tools;
  if (stop.length > 0) request.stop = stop;
  Object.assign(request, toolChoice(body.tool_choice, tools));
  const schema = outputSchema(body.output_config);
  if (schema !== undefined) request.responseFormat = { type: 'json_schema', schema };
  const parsed: ParsedMessages = { model: body.model, stream: body.stream === true, request };
  if (tally.prefix) parsed.cachePrefix = tally.prefix;
  return parsed;
}

function checkRange(value: unknown, field: string, min: number, max: number): void {
  if (value === undefined) return;
  if (typeof value !== 'number') fail(`${field}: Input should be a valid number`);
  if (value < min) fail(`${field}: Input should be greater than or equal to ${min}`);
  if (value > max) fail(`${field}: Input should be less than or equal to ${max}`);
}

function stopSequences(value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) fail('stop_sequences: Input should be a valid list');
  return value.map((s, i) => {
    if (typeof s !== 'string') fail(`stop_sequences.${i}: Input should be a valid string`);
    if (s.trim() === '') fail('stop_sequences: each stop sequence must contain non-whitespace');
    return s;
  });
}

function systemMessages(value: unknown, tally: PromptTally): SimMessage[] {
  if (value === undefined) return [];
  if (typeof value === 'string') {
    tally.add({ type: 'text', text: value }, value, 0);
    return value === '' ? [] : [{ role: 'system', text: value, images: 0 }];
  }
  if (!Array.isArray(value)) fail('system: Input should be a valid string or list of text blocks');
  const texts = value.map((block, i) => {
    if (!isObject(block) || block.type !== 'text' || typeof block.text !== 'string') {
      fail(`system.${i}: Input should be a text block`);
    }
    if (block.text.trim() === '') fail(`system.${i}: text content blocks must be non-empty`);
    tally.add(block, block.text, 0);
    return block.text;
  });
  return texts.length === 0 ? [] : [{ role: 'system', text: texts.join(' '), images: 0 }];
}

function textOfToolResult(content: unknown, where: string): string {
  if (content === undefined) return '';
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) fail(`${where}.content: Input should be a valid string or list`);
  return content
    .filter((b): b is Json => isObject(b) && b.type === 'text' && typeof b.text === 'string')
    .map((b) => String(b.text))
    .join(' ');
}

/** Validates alternation and tool pairing, and flattens the turns into the engine's messages. */
function conversation(value: unknown, tally: PromptTally): SimMessage[] {
  if (value === undefined) fail('messages: Field required');
  if (!Array.isArray(value)) fail('messages: Input should be a valid list');
  if (value.length === 0) fail('messages: at least one message is required');
  const out: SimMessage[] = [];
  let previousRole: string | undefined;
  let pendingToolUses: string[] = [];
  value.forEach((raw, n) => {
    if (!isObject(raw)) fail(`messages.${n}: Input should be a valid dictionary`);
    const role = raw.role;
    if (role !== 'user' && role !== 'assistant')
      fail(`messages.${n}.role: Input should be 'user' or 'assistant'`);
    if (role === previousRole) {
      fail(
        `messages: roles must alternate between "user" and "assistant", but found multiple "${role}" roles in a row`,
      );
    }
    previousRole = role;
    const blocks = contentBlocks(raw.content, n);
    if (role === 'assistant') {
      pendingToolUses = assistantMessage(blocks, n, out, tally);
      return;
    }
    userMessage(blocks, n, pendingToolUses, out, tally);
    pendingToolUses = [];
  });
  return out;
}

function contentBlocks(content: unknown, n: number): Json[] {
  if (typeof content === 'string') {
    if (content === '') fail(`messages.${n}: all messages must have non-empty content`);
    return [{ type: 'text', text: content }];
  }
  if (!Array.isArray(content)) fail(`messages.${n}.content: Input should be a valid string or list`);
  if (content.length === 0) fail(`messages.${n}: all messages must have non-empty content`);
  return content.map((block, m) => {
    if (!isObject(block) || typeof block.type !== 'string')
      fail(`messages.${n}.content.${m}: Input should be a content block`);
    if (block.type === 'text' && (typeof block.text !== 'string' || block.text.trim() === '')) {
      fail(`messages.${n}.content.${m}: text content blocks must be non-empty`);
    }
    return block;
  });
}

function assistantMessage(blocks: Json[], n: number, out: SimMessage[], tally: PromptTally): string[] {
  const texts: string[] = [];
  const ids: string[] = [];
  blocks.forEach((block, m) => {
    const where = `messages.${n}.content.${m}`;
    if (block.type === 'text') {
      if (ids.length > 0) fail(`${where}: text blocks cannot follow tool_use blocks in an assistant message`);
      texts.push(String(block.text));
      tally.add(block, String(block.text), 0);
    } else if (block.type === 'tool_use') {
      if (typeof block.id !== 'string' || !TOOL_ID.test(block.id)) {
        fail(`${where}.id: String should match pattern '^[a-zA-Z0-9_-]+$'`);
      }
      if (typeof block.name !== 'string' || block.name === '') fail(`${where}.name: Field required`);
      if (!isObject(block.input)) fail(`${where}.input: Input should be a valid dictionary`);
      ids.push(block.id);
      tally.add(block, '', 0);
    } else if (block.type !== 'thinking' && block.type !== 'redacted_thinking') {
      fail(
        `${where}.type: Input tag '${String(block.type)}' found using 'type' does not match any of the expected tags`,
      );
    }
  });
  out.push({
    role: 'assistant',
    text: texts.join(' '),
    images: 0,
    ...(ids.length > 0 ? { toolCallIds: ids } : {}),
  });
  return ids;
}

function userMessage(
  blocks: Json[],
  n: number,
  toolUses: string[],
  out: SimMessage[],
  tally: PromptTally,
): void {
  const answered = new Set<string>();
  const texts: string[] = [];
  let images = 0;
  let leading = true;
  blocks.forEach((block, m) => {
    const where = `messages.${n}.content.${m}`;
    if (block.type === 'tool_result') {
      const id = block.tool_use_id;
      if (typeof id !== 'string') fail(`${where}.tool_use_id: Field required`);
      if (!toolUses.includes(id)) {
        fail(
          `${where}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${id}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`,
        );
      }
      if (!leading)
        fail(
          `${where}: \`tool_result\` blocks must come first in the user message, before any other content`,
        );
      answered.add(id);
      const text = textOfToolResult(block.content, where);
      tally.add(block, text, 0);
      out.push({ role: 'tool', text, images: 0, toolCallId: id });
      return;
    }
    leading = false;
    if (block.type === 'text') {
      texts.push(String(block.text));
      tally.add(block, String(block.text), 0);
    } else if (block.type === 'image') {
      checkImage(block.source, `${where}.source`);
      images++;
      tally.add(block, '', 1);
    } else {
      fail(
        `${where}.type: Input tag '${String(block.type)}' found using 'type' does not match any of the expected tags`,
      );
    }
  });
  const missing = toolUses.filter((id) => !answered.has(id));
  if (missing.length > 0) {
    fail(
      `messages.${n - 1}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`,
    );
  }
  if (texts.length > 0 || images > 0) out.push({ role: 'user', text: texts.join(' '), images });
}

function checkImage(source: unknown, where: string): void {
  if (!isObject(source)) fail(`${where}: Field required`);
  if (source.type === 'url') {
    if (typeof source.url !== 'string' || !/^https?:\/\//.test(source.url))
      fail(`${where}.url: Input should be a valid URL`);
    return;
  }
  if (source.type !== 'base64') fail(`${where}.type: Input should be 'base64' or 'url'`);
  if (typeof source.media_type !== 'string' || !IMAGE_TYPES.has(source.media_type)) {
    fail(`${where}.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'`);
  }
  if (
    typeof source.data !== 'string' ||
    source.data === '' ||
    Buffer.from(source.data, 'base64').length === 0
  ) {
    fail(`${where}.data: Image does not match the provided media type or is not valid base64`);
  }
}

function toolList(value: unknown): SimTool[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) fail('tools: Input should be a valid list');
  const names = new Set<string>();
  return value.map((tool, i) => {
    if (!isObject(tool)) fail(`tools.${i}: Input should be a valid dictionary`);
    if (typeof tool.name !== 'string' || !TOOL_NAME.test(tool.name)) {
      fail(`tools.${i}.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'`);
    }
    if (names.has(tool.name)) fail('tools: Tool names must be unique.');
    names.add(tool.name);
    const schema = tool.input_schema;
    if (!isObject(schema)) fail(`tools.${i}.input_schema: Field required`);
    if (schema.type !== 'object') fail(`tools.${i}.input_schema.type: Input should be 'object'`);
    return { name: tool.name, parameters: schema };
  });
}

function toolChoice(
  value: unknown,
  tools: SimTool[] | undefined,
): Pick<SimRequest, 'toolChoice' | 'parallelToolCalls'> {
  if (value === undefined) return {};
  if (!isObject(value)) fail('tool_choice: Input should be a valid dictionary');
  if (!tools || tools.length === 0)
    fail('tool_choice: tool_choice may only be specified while providing tools');
  const out: Pick<SimRequest, 'toolChoice' | 'parallelToolCalls'> = {};
  let choice: SimToolChoice;
  switch (value.type) {
    case 'auto':
      choice = 'auto';
      break;
    case 'any':
      choice = 'required';
      break;
    case 'none':
      choice = 'none';
      break;
    case 'tool': {
      const name = value.name;
      if (typeof name !== 'string') fail('tool_choice.tool.name: Field required');
      if (!tools.some((t) => t.name === name))
        fail(`tool_choice.name: Tool '${name}' not found in provided tools`);
      choice = { name };
      break;
    }
    default:
      fail("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'");
  }
  out.toolChoice = choice;
  if (value.disable_parallel_tool_use === true) out.parallelToolCalls = false;
  return out;
}

/** `output_config.format` (structured outputs): every object schema must be closed. */
function outputSchema(value: unknown): unknown {
  if (value === undefined) return undefined;
  if (!isObject(value)) fail('output_config: Input should be a valid dictionary');
  const format = value.format;
  if (format === undefined || format === null) return undefined;
  if (!isObject(format) || format.type !== 'json_schema')
    fail("output_config.format.type: Input should be 'json_schema'");
  if (!isObject(format.schema)) fail('output_config.format.schema: Field required');
  const open = findOpenObject(format.schema, 'schema');
  if (open) {
    fail(
      `output_config.format.schema: For 'object' type, 'additionalProperties' must be explicitly set to false (at ${open})`,
    );
  }
  return format.schema;
}

function findOpenObject(schema: unknown, path: string): string | undefined {
  if (Array.isArray(schema)) {
    for (const [i, item] of schema.entries()) {
      const found = findOpenObject(item, `${path}[${i}]`);
      if (found) return found;
    }
    return undefined;
  }
  if (!isObject(schema)) return undefined;
  if (schema.type === 'object' && schema.additionalProperties !== false) return path;
  for (const [key, child] of Object.entries(schema)) {
    if (key === 'enum' || key === 'const') continue;
    const found = findOpenObject(child, `${path}.${key}`);
    if (found) return found;
  }
  return undefined;
}
