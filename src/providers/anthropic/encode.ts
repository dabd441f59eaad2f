import type { ChatRequest, ContentPart, FunctionTool, ToolChoice } from '../../core/chat.ts';
import { unsupportedParameter } from '../../core/errors.ts';
import type { JsonObject } from '../../core/json.ts';
import { parseArguments, safeToolId, type Turn, toConversation } from '../shared/conversation.ts';
import type { ImageLoader } from '../shared/images.ts';
import { refuseUnsupported } from '../shared/unsupported.ts';
import type { ModelTraits } from './catalog.ts';
import { planJsonOutput } from './json-output.ts';

/** The cloud's name in 400 messages ("temperature: not supported by Anthropic (...)"). */
export const CLOUD = 'Anthropic';

/** Media types the Messages API takes in a base64 image block. */
const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);
const NO_PARAMETERS = { type: 'object', properties: {} };

export interface EncodeContext {
  /** The model id at Anthropic (the deployment's `model`). */
  model: string;
  traits: ModelTraits;
  loadImage: ImageLoader;
}

/**
 * ChatRequest → Messages API body (the 2023-06-01 request shape). Async because data-URL images
 * are decoded (and checked) here. Throws GatewayError(400) for what Anthropic cannot honour.
 */
export async function encodeMessagesBody(request: ChatRequest, ctx: EncodeContext): Promise<JsonObject> {
  refuseUnsupported(request, CLOUD, {});
  refuseSampling(request);
  const conversation = toConversation(request.messages);
  const messages = await Promise.all(conversation.turns.map((turn) => encodeTurn(turn, ctx.loadImage)));
  if (messages.length === 0) {
    throw unsupportedParameter(
      'messages',
      CLOUD,
      'it needs at least one user or assistant message with content',
    );
  }
  const body: JsonObject = {
    model: ctx.model,
    // Required by Anthropic; an OpenAI client that sends none expects the model's own limit.
    max_tokens: request.maxTokens ?? ctx.traits.maxOutputTokens,
  };
  // Blank system text is refused ("text content blocks must be non-empty").
  const system = conversation.system.filter((text) => text.trim() !== '');
  if (system.length === 1) body.system = system[0];
  else if (system.length > 1) body.system = system.map((text) => ({ type: 'text', text }));
  body.messages = messages;
  Object.assign(body, encodeTools(request, ctx.traits));
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.topP !== undefined) body.top_p = request.topP;
  if (request.stop.length > 0) body.stop_sequences = request.stop;
  // `safety_identifier` is OpenAI's newer name for `user`; both identify the end user.
  const safetyIdentifier = request.openai.passthrough.safety_identifier;
  const userId = request.user ?? (typeof safetyIdentifier === 'string' ? safetyIdentifier : undefined);
  if (userId) body.metadata = { user_id: userId };
  if (request.stream) body.stream = true;
  return body;
}

/** Ranges and values OpenAI accepts that change meaning on Anthropic: refused, not clamped. */
function refuseSampling(request: ChatRequest): void {
  if (request.temperature !== undefined && request.temperature > 1) {
    throw unsupportedParameter(
      'temperature',
      CLOUD,
      `it accepts 0 to 1, got ${request.temperature}; clamping would change the sampling`,
    );
  }
  if (request.stop.some((s) => s.trim() === '')) {
    throw unsupportedParameter('stop', CLOUD, 'stop sequences made only of whitespace are rejected');
  }
}

async function encodeTurn(turn: Turn, loadImage: ImageLoader): Promise<JsonObject> {
  if (turn.role === 'assistant') {
    // Text first: nothing may follow a tool_use block in an assistant message (pitfall 16).
    const content: JsonObject[] = [];
    for (const item of turn.items) if (item.kind === 'text') content.push({ type: 'text', text: item.text });
    for (const item of turn.items) {
      if (item.kind !== 'tool_call') continue;
      content.push({
        type: 'tool_use',
        id: safeToolId(item.id),
        name: item.name,
        input: parseArguments(item.arguments),
      });
    }
    return { role: 'assistant', content: simplify(content) };
  }
  // Tool results open the user message, answering the previous turn's tool_use blocks (pitfall 16).
  const content: JsonObject[] = [];
  for (const item of turn.items) {
    if (item.kind !== 'tool_result') continue;
    content.push({
      type: 'tool_result',
      tool_use_id: safeToolId(item.toolCallId),
      ...(item.text === '' ? {} : { content: item.text }),
    });
  }
  const parts = turn.items.flatMap((item) =>
    item.kind === 'content'
      ? [encodePart(item.part, `messages[${item.message}].content[${item.partIndex}]`, loadImage)]
      : [],
  );
  content.push(...(await Promise.all(parts)));
  return { role: 'user', content: simplify(content) };
}

/** A lone text block is sent as a plain string, the form most Anthropic examples use. */
function simplify(content: JsonObject[]): string | JsonObject[] {
  const only = content[0];
  return content.length === 1 && only?.type === 'text' && typeof only.text === 'string' ? only.text : content;
}

/**
 * http(s) images go as URL sources (Anthropic fetches them, the gateway never does); data URLs
 * are decoded, checked against the four media types Anthropic takes, and sent as base64.
 */
async function encodePart(part: ContentPart, where: string, loadImage: ImageLoader): Promise<JsonObject> {
  if (part.type === 'text') return { type: 'text', text: part.text };
  if (/^https?:\/\//i.test(part.url)) return { type: 'image', source: { type: 'url', url: part.url } };
  const param = `${where}.image_url`;
  const image = await loadImage(part.url, param);
  if (!IMAGE_TYPES.has(image.mimeType)) {
    throw unsupportedParameter(param, CLOUD, `images must be JPEG, PNG, GIF or WebP, got ${image.mimeType}`);
  }
  return {
    type: 'image',
    source: { type: 'base64', media_type: image.mimeType, data: Buffer.from(image.data).toString('base64') },
  };
}

function encodeTool(tool: FunctionTool, traits: ModelTraits): JsonObject {
  const schema = tool.parameters;
  return {
    name: tool.name,
    ...(tool.description === undefined ? {} : { description: tool.description }),
    // Anthropic wants an object schema; OpenAI allows none at all for a function without parameters.
    input_schema: schema === undefined ? NO_PARAMETERS : { type: 'object', ...schema },
    // Strict tools need structured outputs; on older models the flag is dropped, not refused.
    ...(tool.strict && traits.structuredOutputs ? { strict: true } : {}),
  };
}

function nativeChoice(choice: ToolChoice): JsonObject {
  switch (choice.type) {
    case 'auto':
      return { type: 'auto' };
    case 'none':
      return { type: 'none' };
    case 'required':
      return { type: 'any' };
    case 'function':
      return { type: 'tool', name: choice.name };
  }
}

/** tools, tool_choice and output_config, including the JSON-output plan (json-output.ts). */
function encodeTools(request: ChatRequest, traits: ModelTraits): JsonObject {
  const out: JsonObject = {};
  const plan = planJsonOutput(request, traits);
  const tools = request.tools.map((t) => encodeTool(t, traits));
  const requested = request.toolChoice;
  let choice: JsonObject | undefined;
  if (plan?.kind === 'tool') {
    tools.push(encodeTool(plan.tool, traits));
    // Under auto the model may still call the client's tools, or answer through the JSON tool.
    const auto = request.tools.length > 0 && (requested === undefined || requested.type === 'auto');
    choice = auto ? { type: 'any' } : { type: 'tool', name: plan.tool.name };
  } else if (requested && tools.length > 0) {
    choice = nativeChoice(requested);
    if (!traits.forcedToolChoice && (choice.type === 'any' || choice.type === 'tool')) {
      throw unsupportedParameter('tool_choice', CLOUD, 'this model refuses forced tool use');
    }
  }
  if (plan?.kind === 'native') out.output_config = { format: { type: 'json_schema', schema: plan.schema } };
  if (tools.length === 0) return out;
  out.tools = tools;
  if (request.parallelToolCalls === false && choice?.type !== 'none') {
    choice = { ...(choice ?? { type: 'auto' }), disable_parallel_tool_use: true };
  }
  if (choice) out.tool_choice = choice;
  return out;
}
