import type { ChatRequest, ContentPart, ToolChoice } from '../../core/chat.ts';
import { invalidRequest } from '../../core/errors.ts';
import { type AssistantItem, parseArguments, toConversation, type UserItem } from '../shared/conversation.ts';
import type { ImageLoader } from '../shared/images.ts';
import { refuseUnsupported } from '../shared/unsupported.ts';
import { toFunctionParameters, toGeminiSchema } from './schema.ts';
import { decodeToolCallId } from './tool-ids.ts';

type JsonObject = Record<string, unknown>;

/** What differs between the two front doors of the same Gemini models. */
export interface GoogleDialect {
  /** For error messages: "Gemini API", "Vertex AI". */
  cloudName: string;
  /** The Gemini API accepts `id` on functionCall/functionResponse parts; Vertex refuses it (pitfall 11). */
  functionCallIds: boolean;
}

/**
 * Google's documented stand-in signature for function calls that did not come from a Gemini 3 model
 * (history written by another cloud or by the client). Gemini 3 refuses unsigned calls in the
 * current turn; older models do not check. Sent only to Gemini 3 models.
 */
export const SKIP_SIGNATURE = 'skip_thought_signature_validator';

const needsSignatures = (model: string): boolean => /(^|\/)gemini-3/.test(model);

/**
 * ChatRequest → GenerateContentRequest body. Pure apart from loading image URLs (data URLs decode in
 * place; http(s) URLs are fetched by the gateway's loader). Throws GatewayError(400) for what the
 * cloud cannot honour.
 */
export async function encodeGenerateContent(
  request: ChatRequest,
  model: string,
  dialect: GoogleDialect,
  loadImage: ImageLoader,
): Promise<JsonObject> {
  refuseUnsupported(request, dialect.cloudName, {
    n: true,
    penalties: true,
    logprobs: false,
    logitBias: false,
  });
  const conversation = toConversation(request.messages);
  if (conversation.turns.length === 0) {
    throw invalidRequest('messages', `${dialect.cloudName} needs at least one user or assistant message`);
  }
  const body: JsonObject = {};
  const signUnsigned = needsSignatures(model);
  // Every turn at once, so the request's images load together (the loader bounds how many).
  body.contents = await Promise.all(
    conversation.turns.map(async (turn) =>
      turn.role === 'user'
        ? { role: 'user', parts: await userParts(turn.items, dialect, loadImage) }
        : { role: 'model', parts: modelParts(turn.items, dialect, signUnsigned) },
    ),
  );
  const system = conversation.system.filter((text) => text.trim() !== '');
  if (system.length > 0) body.systemInstruction = { parts: system.map((text) => ({ text })) };

  if (request.tools.length > 0) {
    body.tools = [
      {
        functionDeclarations: request.tools.map((tool) => {
          const parameters = toFunctionParameters(tool.parameters);
          return {
            name: tool.name,
            ...(tool.description === undefined ? {} : { description: tool.description }),
            ...(parameters === undefined ? {} : { parameters }),
          };
        }),
      },
    ];
    if (request.toolChoice)
      body.toolConfig = { functionCallingConfig: functionCallingConfig(request.toolChoice) };
  }

  const generationConfig = encodeGenerationConfig(request);
  if (Object.keys(generationConfig).length > 0) body.generationConfig = generationConfig;
  return body;
}

function functionCallingConfig(choice: ToolChoice): JsonObject {
  switch (choice.type) {
    case 'auto':
      return { mode: 'AUTO' };
    case 'none':
      return { mode: 'NONE' };
    case 'required':
      return { mode: 'ANY' };
    case 'function':
      return { mode: 'ANY', allowedFunctionNames: [choice.name] };
  }
}

function encodeGenerationConfig(request: ChatRequest): JsonObject {
  const config: JsonObject = {};
  if (request.maxTokens !== undefined) config.maxOutputTokens = request.maxTokens;
  // Gemini's temperature range is OpenAI's (0-2): no scaling.
  if (request.temperature !== undefined) config.temperature = request.temperature;
  if (request.topP !== undefined) config.topP = request.topP;
  if (request.stop.length > 0) config.stopSequences = request.stop;
  if (request.seed !== undefined) config.seed = request.seed;
  const o = request.openai;
  if (o.n !== undefined && o.n > 1) config.candidateCount = o.n;
  if (o.presencePenalty) config.presencePenalty = o.presencePenalty;
  if (o.frequencyPenalty) config.frequencyPenalty = o.frequencyPenalty;
  const format = request.responseFormat;
  if (format?.type === 'json_object') config.responseMimeType = 'application/json';
  if (format?.type === 'json_schema') {
    config.responseMimeType = 'application/json';
    if (format.schema) config.responseSchema = toGeminiSchema(format.schema, { propertyOrdering: true });
  }
  return config;
}

async function userParts(
  items: UserItem[],
  dialect: GoogleDialect,
  loadImage: ImageLoader,
): Promise<JsonObject[]> {
  // Function responses lead the turn: they answer the calls of the model turn right before it.
  // What can be refused without loading goes first: no image load is left running unawaited.
  const responses = items.flatMap((item) =>
    item.kind === 'tool_result' ? [functionResponsePart(item, dialect)] : [],
  );
  const others = await Promise.all(
    items.flatMap((item) =>
      item.kind === 'content' ? [contentPart(item.part, item.message, item.partIndex, loadImage)] : [],
    ),
  );
  return [...responses, ...others];
}

async function contentPart(
  part: ContentPart,
  message: number,
  index: number,
  loadImage: ImageLoader,
): Promise<JsonObject> {
  if (part.type === 'text') return { text: part.text };
  const image = await loadImage(part.url, `messages[${message}].content[${index}].image_url`);
  return { inlineData: { mimeType: image.mimeType, data: Buffer.from(image.data).toString('base64') } };
}

function functionResponsePart(
  item: Extract<UserItem, { kind: 'tool_result' }>,
  dialect: GoogleDialect,
): JsonObject {
  if (item.toolName === '') {
    throw invalidRequest(
      `messages[${item.message}].tool_call_id`,
      `no earlier assistant tool call has this id; ${dialect.cloudName} needs the function's name`,
    );
  }
  const geminiId = dialect.functionCallIds ? decodeToolCallId(item.toolCallId).geminiId : undefined;
  return {
    functionResponse: {
      ...(geminiId ? { id: geminiId } : {}),
      name: item.toolName,
      response: responseObject(item.text),
    },
  };
}

/** `response` must be a JSON object: an object result goes as is, anything else as `{content}` (pitfall 8). */
function responseObject(text: string): JsonObject {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as JsonObject;
  } catch {
    // Plain text.
  }
  return { content: text };
}

function modelParts(items: AssistantItem[], dialect: GoogleDialect, signUnsigned: boolean): JsonObject[] {
  const carried = items.map((item) => (item.kind === 'tool_call' ? decodeToolCallId(item.id) : {}));
  // Gemini 3 signs the first call of each step (parallel calls share it). A turn with no signature at
  // all was not written by Gemini 3: its first call gets the documented stand-in.
  let placeholderDue = signUnsigned && !carried.some((c) => c.signature);
  return items.map((item, i) => {
    if (item.kind === 'text') return { text: item.text };
    const { signature, geminiId } = carried[i] ?? {};
    const sent = signature ?? (placeholderDue ? SKIP_SIGNATURE : undefined);
    placeholderDue = false;
    return {
      functionCall: {
        ...(dialect.functionCallIds && geminiId ? { id: geminiId } : {}),
        name: item.name,
        args: parseArguments(item.arguments),
      },
      ...(sent ? { thoughtSignature: sent } : {}),
    };
  });
}
