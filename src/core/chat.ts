/**
 * The provider-neutral request and event types every stage speaks.
 *
 * `ChatRequest` is validated once at ingress and is close to OpenAI's chat body, in camelCase.
 * `ChatEvent` is the one stream-event type: providers decode their native responses into it and
 * egress encodes it back into OpenAI JSON or SSE. A non-streaming answer is the same events collected.
 */

export type Role = 'system' | 'developer' | 'user' | 'assistant' | 'tool';

export interface TextPart {
  type: 'text';
  text: string;
}

export interface ImagePart {
  type: 'image';
  /** An http(s) URL or a `data:<mime>;base64,...` URL, exactly as the client sent it. */
  url: string;
  detail?: 'auto' | 'low' | 'high';
}

export type ContentPart = TextPart | ImagePart;

export interface ToolCall {
  id: string;
  name: string;
  /** The arguments as the JSON text the model produced (OpenAI keeps them as a string). */
  arguments: string;
}

export interface SystemMessage {
  role: 'system' | 'developer';
  content: TextPart[];
  name?: string;
}

export interface UserMessage {
  role: 'user';
  content: ContentPart[];
  name?: string;
}

export interface AssistantMessage {
  role: 'assistant';
  content: TextPart[];
  toolCalls: ToolCall[];
  refusal?: string;
  name?: string;
}

export interface ToolMessage {
  role: 'tool';
  toolCallId: string;
  content: TextPart[];
}

export type ChatMessage = SystemMessage | UserMessage | AssistantMessage | ToolMessage;

export interface FunctionTool {
  name: string;
  description?: string;
  /** JSON Schema of the arguments; absent means the function takes no parameters. */
  parameters?: Record<string, unknown>;
  strict?: boolean;
}

export type ToolChoice =
  | { type: 'auto' }
  | { type: 'none' }
  | { type: 'required' }
  | { type: 'function'; name: string };

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | {
      type: 'json_schema';
      name: string;
      description?: string;
      schema?: Record<string, unknown>;
      strict?: boolean;
    };

/**
 * OpenAI parameters that only some clouds can honour. Kept apart from the shared fields so each
 * provider decides, in one place, whether it forwards, emulates or refuses them.
 */
export interface OpenAIOnlyParams {
  n?: number;
  logprobs?: boolean;
  topLogprobs?: number;
  frequencyPenalty?: number;
  presencePenalty?: number;
  logitBias?: Record<string, number>;
  /** Fields forwarded verbatim to OpenAI-protocol clouds (reasoning_effort, service_tier, ...). */
  passthrough: Record<string, unknown>;
}

export interface ChatRequest {
  /** The logical model name the client asked for (a `models[].name` of the configuration). */
  model: string;
  messages: ChatMessage[];
  stream: boolean;
  includeUsage: boolean;
  tools: FunctionTool[];
  toolChoice?: ToolChoice;
  parallelToolCalls?: boolean;
  responseFormat?: ResponseFormat;
  temperature?: number;
  topP?: number;
  /** max_completion_tokens, or max_tokens when only that was sent. */
  maxTokens?: number;
  /** Which of the two OpenAI fields the client used, so OpenAI-protocol clouds get it back as sent. */
  maxTokensField?: 'max_tokens' | 'max_completion_tokens';
  stop: string[];
  seed?: number;
  user?: string;
  openai: OpenAIOnlyParams;
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** Prompt tokens read from a cache (a subset of promptTokens). */
  cachedTokens?: number;
  /** Prompt tokens written to a cache (a subset of promptTokens). */
  cacheWriteTokens?: number;
  /** Completion tokens spent on reasoning (a subset of completionTokens). */
  reasoningTokens?: number;
}

/** A token's log-probability as OpenAI reports it; carried opaquely for clouds that provide it. */
export type TokenLogprob = Record<string, unknown>;

export type ChatEvent =
  /** The upstream accepted the request and produced its first output. */
  | { type: 'start'; id?: string; created?: number; model?: string; systemFingerprint?: string }
  | { type: 'text'; choice: number; text: string; logprobs?: TokenLogprob[] }
  | { type: 'refusal'; choice: number; text: string }
  | { type: 'tool_call_start'; choice: number; index: number; id: string; name: string }
  | { type: 'tool_call_delta'; choice: number; index: number; arguments: string }
  | { type: 'usage'; usage: Usage }
  | { type: 'finish'; choice: number; reason: FinishReason };

export interface EmbeddingRequest {
  model: string;
  /** Strings, or token arrays for clouds that accept them. */
  input: string[] | number[][];
  dimensions?: number;
  encodingFormat: 'float' | 'base64';
  user?: string;
}

export interface EmbeddingResult {
  vectors: Float32Array[];
  usage: { promptTokens: number; totalTokens: number };
  /** The model name the upstream reported, when it reported one. */
  model?: string;
}
