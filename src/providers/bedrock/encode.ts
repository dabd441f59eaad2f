/**
 * ChatRequest → Converse request body (AWS Bedrock API reference: Converse request body), with the translation choices Bedrock forces
 * (sections 7 and 8.1-8.7). Each choice is written where it is made; README's translation matrix
 * lists them all.
 */

import type { ChatRequest, ToolChoice } from '../../core/chat.ts';
import { unsupportedParameter } from '../../core/errors.ts';
import type { JsonObject } from '../../core/json.ts';
import {
  type AssistantItem,
  parseArguments,
  safeToolId,
  toConversation,
  type UserItem,
} from '../shared/conversation.ts';
import type { ImageLoader } from '../shared/images.ts';
import { refuseUnsupported } from '../shared/unsupported.ts';

export const CLOUD_NAME = 'AWS Bedrock';

/** The synthetic tool that carries a `response_format` answer (docs/translation.md note, as vercel/ai does). */
export const JSON_TOOL_NAME = 'json_response';

/**
 * Bedrock wants a user turn first: a conversation that starts otherwise gets one with this text
 * put before it (as LiteLLM does). It also stands in for a user turn left with nothing but blanks.
 */
export const LEADING_USER_TEXT = '.';

/** Bedrock refuses blank text blocks, so a tool result without output says so in words. */
export const EMPTY_TOOL_RESULT_TEXT = '(empty)';

const IMAGE_FORMATS: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/gif': 'gif',
  'image/webp': 'webp',
};

/** `requestMetadata` values Bedrock accepts; a `user` outside this is bookkeeping we can drop. */
const METADATA_VALUE = /^[a-zA-Z0-9\s:_@$#=/+,.-]{1,256}$/;

/** The synthetic JSON tool's name when the request asks for JSON output, otherwise undefined. */
export function jsonToolName(request: ChatRequest): string | undefined {
  const format = request.responseFormat?.type;
  return format === 'json_object' || format === 'json_schema' ? JSON_TOOL_NAME : undefined;
}

/** Whether real tools are offered to the model: defined, and tool_choice is not `none`. */
export function offersTools(request: ChatRequest): boolean {
  return request.tools.length > 0 && request.toolChoice?.type !== 'none';
}

/**
 * Encodes a chat request as a Converse body. Async only because image URLs may need fetching;
 * throws GatewayError (400) for what Bedrock cannot honour, so routing can try another deployment.
 */
export async function encodeConverseRequest(
  request: ChatRequest,
  loadImage: ImageLoader,
): Promise<JsonObject> {
  refuseUnsupported(request, CLOUD_NAME, {});
  if (request.temperature !== undefined && request.temperature > 1) {
    throw unsupportedParameter(
      'temperature',
      CLOUD_NAME,
      `Bedrock accepts a temperature from 0 to 1, got ${request.temperature}`,
    );
  }
  const toolsOffered = offersTools(request);
  const jsonTool = jsonToolName(request);
  if (jsonTool && request.tools.some((t) => t.name === jsonTool)) {
    throw unsupportedParameter(
      'response_format',
      CLOUD_NAME,
      `it is emulated with a tool named ${jsonTool}, and the request defines a tool of that name`,
    );
  }

  const conversation = toConversation(request.messages);
  // Every turn at once, so the request's images load together (the loader bounds how many).
  const messages: JsonObject[] = await Promise.all(
    conversation.turns.map(async (turn) =>
      turn.role === 'user'
        ? { role: 'user', content: await userBlocks(turn.items, toolsOffered, loadImage) }
        : { role: 'assistant', content: assistantBlocks(turn.items, toolsOffered) },
    ),
  );
  if (messages[0]?.role !== 'user')
    messages.unshift({ role: 'user', content: [{ text: LEADING_USER_TEXT }] });

  const body: JsonObject = { messages };
  const system = conversation.system.filter((text) => text.trim() !== '').map((text) => ({ text }));
  if (system.length > 0) body.system = system;

  const inference: JsonObject = {};
  if (request.maxTokens !== undefined) inference.maxTokens = request.maxTokens;
  if (request.temperature !== undefined) inference.temperature = request.temperature;
  if (request.topP !== undefined) inference.topP = request.topP;
  const stops = request.stop.filter((s) => s !== '');
  if (stops.length > 0) inference.stopSequences = stops;
  if (Object.keys(inference).length > 0) body.inferenceConfig = inference;

  const toolConfig = encodeToolConfig(request, toolsOffered, jsonTool);
  if (toolConfig) body.toolConfig = toolConfig;
  // `seed` has no Converse field and is dropped (OpenAI's seed is best-effort too).
  if (request.user !== undefined && METADATA_VALUE.test(request.user))
    body.requestMetadata = { user: request.user };
  return body;
}

/**
 * A user turn's blocks. Tool results come first (Claude on Bedrock rejects a user message whose
 * tool results follow other content). When no tools are offered, Bedrock would demand a toolConfig
 * for toolResult blocks (pitfall 3), so the results become text instead.
 */
async function userBlocks(
  items: UserItem[],
  structuredTools: boolean,
  loadImage: ImageLoader,
): Promise<JsonObject[]> {
  const results: JsonObject[] = [];
  const content: (JsonObject | Promise<JsonObject>)[] = [];
  for (const item of items) {
    if (item.kind === 'tool_result') {
      const text = item.text.trim() === '' ? EMPTY_TOOL_RESULT_TEXT : item.text;
      if (structuredTools)
        results.push({ toolResult: { toolUseId: safeToolId(item.toolCallId), content: [{ text }] } });
      else results.push({ text: `[tool result ${item.toolCallId}: ${text}]` });
    } else if (item.part.type === 'text') {
      // A later system message joins the user turn unfiltered; Bedrock refuses blank text blocks.
      if (item.part.text.trim() !== '') content.push({ text: item.part.text });
    } else {
      // Started, not awaited: the turn's images load together (the loader bounds how many at once).
      const param = `messages[${item.message}].content[${item.partIndex}].image_url`;
      content.push(imageBlock(item.part.url, param, loadImage));
    }
  }
  const blocks = [...results, ...(await Promise.all(content))];
  return blocks.length > 0 ? blocks : [{ text: LEADING_USER_TEXT }];
}

async function imageBlock(url: string, param: string, loadImage: ImageLoader): Promise<JsonObject> {
  const image = await loadImage(url, param);
  const format = IMAGE_FORMATS[image.mimeType];
  if (!format) {
    throw unsupportedParameter(
      param,
      CLOUD_NAME,
      `images must be png, jpeg, gif or webp, got ${image.mimeType}`,
    );
  }
  return { image: { format, source: { bytes: Buffer.from(image.data).toString('base64') } } };
}

/**
 * An assistant turn's blocks: text before tool calls (newer Claude models reject a replayed turn
 * with text after a toolUse), tool calls as toolUse with the arguments parsed to an object, or as
 * text when no tools are offered (see userBlocks).
 */
function assistantBlocks(items: AssistantItem[], structuredTools: boolean): JsonObject[] {
  const texts: JsonObject[] = [];
  const calls: JsonObject[] = [];
  for (const item of items) {
    if (item.kind === 'text') texts.push({ text: item.text });
    else if (structuredTools) {
      calls.push({
        toolUse: { toolUseId: safeToolId(item.id), name: item.name, input: parseArguments(item.arguments) },
      });
    } else {
      calls.push({
        text: `[tool call ${item.id}: ${item.name}(${item.arguments.trim() === '' ? '{}' : item.arguments})]`,
      });
    }
  }
  return [...texts, ...calls];
}

/**
 * `tools` → toolSpecs, `tool_choice` → toolChoice; `response_format` json → the synthetic JSON tool,
 * forced when it is the only tool, and `any` (a real tool or the answer) when real tools are offered
 * under auto. `tool_choice: none` offers no tools at all: Converse has no "none".
 */
function encodeToolConfig(
  request: ChatRequest,
  toolsOffered: boolean,
  jsonTool: string | undefined,
): JsonObject | undefined {
  const tools: JsonObject[] = [];
  if (toolsOffered) {
    for (const tool of request.tools) {
      tools.push({
        toolSpec: {
          name: tool.name,
          ...(tool.description ? { description: tool.description } : {}),
          inputSchema: { json: tool.parameters ?? { type: 'object', properties: {} } },
        },
      });
    }
  }
  if (jsonTool) tools.push({ toolSpec: jsonToolSpec(request, jsonTool) });
  if (tools.length === 0) return undefined;
  const choice = toolsOffered ? request.toolChoice : undefined;
  const toolChoice = jsonTool
    ? toolsOffered
      ? encodeChoice(choice?.type === 'function' ? choice : { type: 'required' })
      : { tool: { name: jsonTool } }
    : choice && encodeChoice(choice);
  return toolChoice ? { tools, toolChoice } : { tools };
}

function encodeChoice(choice: ToolChoice): JsonObject | undefined {
  switch (choice.type) {
    case 'auto':
      return { auto: {} };
    case 'required':
      return { any: {} };
    case 'function':
      return { tool: { name: choice.name } };
    case 'none':
      return undefined;
  }
}

function jsonToolSpec(request: ChatRequest, name: string): JsonObject {
  const format = request.responseFormat;
  if (format?.type === 'json_schema') {
    return {
      name,
      description: format.description ?? `Respond with the answer as JSON (${format.name}).`,
      inputSchema: { json: format.schema ?? { type: 'object' } },
    };
  }
  return {
    name,
    description: 'Respond with the answer as a JSON object.',
    inputSchema: { json: { type: 'object' } },
  };
}
