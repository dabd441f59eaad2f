/**
 * The simulated Bedrock's reading of a Converse body (AWS Bedrock API reference: Converse request body): the validation behaviours that
 * catch a gateway's translation mistakes (pitfalls 1-4: role alternation and a user turn first,
 * blank text, toolConfig whenever toolUse/toolResult appear, temperature ≤ 1, lowercase image
 * formats, ≤ 4 stop sequences, Claude's tool_use/tool_result pairing), then the neutral SimRequest.
 */

import type { SimMessage, SimRequest, SimTool, SimToolChoice } from './engine.ts';

/** A ValidationException (HTTP 400) with Bedrock's message. */
export class ConverseValidationError extends Error {
  override name = 'ConverseValidationError';
}

const TOP_LEVEL = new Set([
  'messages',
  'system',
  'inferenceConfig',
  'toolConfig',
  'guardrailConfig',
  'additionalModelRequestFields',
  'additionalModelResponseFieldPaths',
  'promptVariables',
  'requestMetadata',
  'performanceConfig',
  'serviceTier',
]);
const BLOCK_KEYS = [
  'text',
  'image',
  'document',
  'video',
  'toolUse',
  'toolResult',
  'guardContent',
  'reasoningContent',
  'cachePoint',
  'citationsContent',
];
const IMAGE_FORMATS = ['png', 'jpeg', 'gif', 'webp'];
const NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function fail(message: string): never {
  throw new ConverseValidationError(message);
}

/** AWS's generic constraint message, e.g. for `inferenceConfig.temperature`. */
function constraint(value: unknown, at: string, rule: string): never {
  fail(
    `1 validation error detected: Value '${String(value)}' at '${at}' failed to satisfy constraint: Member must ${rule}`,
  );
}

interface ParsedMessage {
  role: 'user' | 'assistant';
  text: string[];
  images: number;
  toolUses: string[];
  toolResults: { id: string; text: string }[];
}

function parseBlock(block: unknown, i: number, j: number, out: ParsedMessage): void {
  const at = `messages.${i}.content.${j}`;
  const keys = isObject(block) ? Object.keys(block).filter((k) => BLOCK_KEYS.includes(k)) : [];
  if (!isObject(block) || keys.length !== 1 || Object.keys(block).length !== 1) {
    fail(`The ContentBlock object at ${at} must set exactly one of: ${BLOCK_KEYS.join(', ')}.`);
  }
  const key = keys[0];
  const value = block[key ?? ''];
  if (key === 'text') {
    if (typeof value !== 'string') constraint(value, `${at}.text`, 'be a string');
    if (value.trim() === '')
      fail(
        `The text field in the ContentBlock object at ${at} is blank. Add text to the text field, and try again.`,
      );
    out.text.push(value);
  } else if (key === 'image') {
    const format = isObject(value) ? value.format : undefined;
    if (typeof format !== 'string' || !IMAGE_FORMATS.includes(format)) {
      constraint(format, `${at}.image.format`, `satisfy enum value set: [${IMAGE_FORMATS.join(', ')}]`);
    }
    const bytes = isObject(value) && isObject(value.source) ? value.source.bytes : undefined;
    if (typeof bytes !== 'string' || bytes === '' || !BASE64.test(bytes)) {
      fail(`The image at ${at} must carry base64 bytes in source.bytes.`);
    }
    out.images++;
  } else if (key === 'toolUse') {
    if (out.role !== 'assistant') fail(`${at}: only assistant messages can contain toolUse blocks.`);
    if (!isObject(value) || typeof value.toolUseId !== 'string' || !NAME.test(value.toolUseId)) {
      constraint(
        isObject(value) ? value.toolUseId : value,
        `${at}.toolUse.toolUseId`,
        'satisfy regular expression pattern: [a-zA-Z0-9_-]+',
      );
    }
    if (typeof value.name !== 'string' || !NAME.test(value.name)) {
      constraint(value.name, `${at}.toolUse.name`, 'satisfy regular expression pattern: [a-zA-Z0-9_-]+');
    }
    if (value.input === undefined) constraint(null, `${at}.toolUse.input`, 'not be null');
    out.toolUses.push(value.toolUseId);
  } else if (key === 'toolResult') {
    if (out.role !== 'user') fail(`${at}: only user messages can contain toolResult blocks.`);
    if (!isObject(value) || typeof value.toolUseId !== 'string' || !NAME.test(value.toolUseId)) {
      constraint(
        isObject(value) ? value.toolUseId : value,
        `${at}.toolResult.toolUseId`,
        'satisfy regular expression pattern: [a-zA-Z0-9_-]+',
      );
    }
    if (!Array.isArray(value.content)) constraint(null, `${at}.toolResult.content`, 'not be null');
    if (value.status !== undefined && value.status !== 'success' && value.status !== 'error') {
      constraint(value.status, `${at}.toolResult.status`, 'satisfy enum value set: [success, error]');
    }
    const parts = value.content.map((part, k) => {
      if (isObject(part) && typeof part.text === 'string') {
        if (part.text.trim() === '')
          fail(
            `The text field in the ToolResultContentBlock object at ${at}.toolResult.content.${k} is blank.`,
          );
        return part.text;
      }
      if (isObject(part) && part.json !== undefined) return JSON.stringify(part.json);
      return '';
    });
    out.toolResults.push({ id: value.toolUseId, text: parts.join(' ') });
  }
  // document, video, guardContent, reasoningContent, cachePoint, citationsContent: accepted, not read.
}

function parseMessages(value: unknown): ParsedMessage[] {
  if (value === undefined || value === null) constraint(null, 'messages', 'not be null');
  if (!Array.isArray(value)) constraint(value, 'messages', 'be a list');
  const parsed = value.map((m, i): ParsedMessage => {
    if (!isObject(m)) constraint(m, `messages.${i}`, 'be a structure');
    if (m.role !== 'user' && m.role !== 'assistant')
      constraint(m.role, `messages.${i}.member.role`, 'satisfy enum value set: [user, assistant]');
    if (!Array.isArray(m.content) || m.content.length === 0) {
      fail(
        `The content field in the Message object at messages.${i} is empty. Add a ContentBlock object to the content field and try again.`,
      );
    }
    const out: ParsedMessage = { role: m.role, text: [], images: 0, toolUses: [], toolResults: [] };
    m.content.forEach((block, j) => {
      parseBlock(block, i, j, out);
    });
    return out;
  });
  if (parsed[0]?.role !== 'user') {
    fail(
      'A conversation must start with a user message. Try again with a conversation that starts with a user message.',
    );
  }
  for (let i = 1; i < parsed.length; i++) {
    if (parsed[i]?.role === parsed[i - 1]?.role) {
      fail(
        'A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.',
      );
    }
  }
  checkToolPairing(parsed);
  return parsed;
}

/** Claude on Bedrock: results answer the previous turn's calls, and every call is answered next turn. */
function checkToolPairing(messages: ParsedMessage[]): void {
  messages.forEach((m, i) => {
    const previous = messages[i - 1];
    for (const result of m.toolResults) {
      if (!previous?.toolUses.includes(result.id)) {
        fail(
          `The model returned the following errors: messages.${i}.content: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${result.id}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`,
        );
      }
    }
    const next = messages[i + 1];
    const missing = next ? m.toolUses.filter((id) => !next.toolResults.some((r) => r.id === id)) : [];
    if (missing.length > 0) {
      fail(
        `The model returned the following errors: messages.${i + 1}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`,
      );
    }
  });
}

function parseSystem(value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) constraint(value, 'system', 'be a list');
  return value.flatMap((block, k) => {
    if (!isObject(block)) constraint(block, `system.${k}`, 'be a structure');
    if (block.text === undefined) return [];
    if (typeof block.text !== 'string' || block.text.trim() === '') {
      fail(
        `The text field in the SystemContentBlock object at system.${k} is blank. Add text to the text field, and try again.`,
      );
    }
    return [block.text];
  });
}

function parseInference(value: unknown): { maxTokens?: number; stop?: string[] } {
  if (value === undefined) return {};
  if (!isObject(value)) constraint(value, 'inferenceConfig', 'be a structure');
  const { maxTokens, temperature, topP, stopSequences } = value;
  if (maxTokens !== undefined && (!Number.isInteger(maxTokens) || (maxTokens as number) < 1)) {
    constraint(maxTokens, 'inferenceConfig.maxTokens', 'have value greater than or equal to 1');
  }
  for (const [name, v] of [
    ['temperature', temperature],
    ['topP', topP],
  ] as const) {
    if (v === undefined) continue;
    if (typeof v !== 'number' || v < 0)
      constraint(v, `inferenceConfig.${name}`, 'have value greater than or equal to 0');
    if (v > 1) constraint(v, `inferenceConfig.${name}`, 'have value less than or equal to 1');
  }
  if (stopSequences !== undefined) {
    if (!Array.isArray(stopSequences))
      constraint(stopSequences, 'inferenceConfig.stopSequences', 'be a list');
    if (stopSequences.length > 4)
      constraint(
        `[${stopSequences.join(', ')}]`,
        'inferenceConfig.stopSequences',
        'have length less than or equal to 4',
      );
    for (const s of stopSequences) {
      if (typeof s !== 'string' || s === '')
        constraint(s, 'inferenceConfig.stopSequences.member', 'have length greater than or equal to 1');
    }
  }
  return {
    ...(maxTokens === undefined ? {} : { maxTokens: maxTokens as number }),
    ...(stopSequences === undefined ? {} : { stop: stopSequences as string[] }),
  };
}

function parseToolConfig(value: unknown): { tools: SimTool[]; choice: SimToolChoice } | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value) || !Array.isArray(value.tools) || value.tools.length === 0) {
    constraint(
      isObject(value) ? value.tools : value,
      'toolConfig.tools',
      'have length greater than or equal to 1',
    );
  }
  const tools: SimTool[] = [];
  value.tools.forEach((tool, k) => {
    if (isObject(tool) && tool.cachePoint !== undefined) return;
    const spec = isObject(tool) ? tool.toolSpec : undefined;
    if (!isObject(spec)) fail(`The tool at toolConfig.tools.${k} must set toolSpec or cachePoint.`);
    if (typeof spec.name !== 'string' || !NAME.test(spec.name)) {
      constraint(
        spec.name,
        `toolConfig.tools.${k}.member.toolSpec.name`,
        'satisfy regular expression pattern: [a-zA-Z0-9_-]+',
      );
    }
    if (tools.some((t) => t.name === spec.name))
      fail(`The toolConfig contains duplicate tool names: ${spec.name}.`);
    const schema = isObject(spec.inputSchema) ? spec.inputSchema.json : undefined;
    if (!isObject(schema))
      constraint(null, `toolConfig.tools.${k}.member.toolSpec.inputSchema.json`, 'not be null');
    tools.push({ name: spec.name, parameters: schema });
  });
  const choice = value.toolChoice;
  if (choice === undefined) return { tools, choice: 'auto' };
  const keys = isObject(choice) ? Object.keys(choice) : [];
  if (!isObject(choice) || keys.length !== 1)
    fail('toolConfig.toolChoice must set exactly one of: auto, any, tool.');
  if (choice.auto !== undefined) return { tools, choice: 'auto' };
  if (choice.any !== undefined) return { tools, choice: 'required' };
  const name = isObject(choice.tool) ? choice.tool.name : undefined;
  if (typeof name !== 'string') fail('toolConfig.toolChoice must set exactly one of: auto, any, tool.');
  if (!tools.some((t) => t.name === name))
    fail(`The tool ${name} named in toolConfig.toolChoice is not defined in toolConfig.tools.`);
  return { tools, choice: { name } };
}

/** A Converse body → the neutral request, or throws ConverseValidationError. */
export function parseConverseBody(body: unknown, model: string, label: string): SimRequest {
  if (!isObject(body)) fail('Malformed input request, please reformat your input and try again.');
  for (const key of Object.keys(body)) {
    if (!TOP_LEVEL.has(key)) fail(`1 validation error detected: unknown field '${key}' in the request body.`);
  }
  const system = parseSystem(body.system);
  const messages = parseMessages(body.messages);
  const inference = parseInference(body.inferenceConfig);
  const toolConfig = parseToolConfig(body.toolConfig);
  if (!toolConfig && messages.some((m) => m.toolUses.length > 0 || m.toolResults.length > 0)) {
    fail('The toolConfig field must be defined when using toolUse and toolResult content blocks.');
  }
  const simMessages: SimMessage[] = system.map((text) => ({ role: 'system', text, images: 0 }));
  for (const m of messages) {
    if (m.role === 'assistant') {
      simMessages.push({
        role: 'assistant',
        text: m.text.join(' '),
        images: 0,
        ...(m.toolUses.length > 0 ? { toolCallIds: m.toolUses } : {}),
      });
      continue;
    }
    for (const r of m.toolResults)
      simMessages.push({ role: 'tool', text: r.text, images: 0, toolCallId: r.id });
    if (m.text.length > 0 || m.images > 0)
      simMessages.push({ role: 'user', text: m.text.join(' '), images: m.images });
  }
  return {
    model,
    label,
    messages: simMessages,
    n: 1,
    ...(toolConfig ? { tools: toolConfig.tools, toolChoice: toolConfig.choice } : {}),
    ...(inference.maxTokens === undefined ? {} : { maxTokens: inference.maxTokens }),
    ...(inference.stop ? { stop: inference.stop } : {}),
  };
}
