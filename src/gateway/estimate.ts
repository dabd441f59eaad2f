import type { ChatRequest, EmbeddingRequest } from '../core/chat.ts';

/** How much a request may use, known before it is sent. */
export interface TokenEstimate {
  /** A working estimate of the prompt (about 4 bytes of text per token): rate windows, routing. */
  inputTokens: number;
  /**
   * An upper bound of the prompt: one token per byte of text (no tokenizer produces more tokens
   * than bytes), plus a per-image ceiling. Hard budgets reserve against this.
   */
  inputTokensMax: number;
  /** Output for rate windows and routing: the request's max tokens, or a typical answer's size. */
  outputTokens: number;
  /** Output for hard budgets: the request's max tokens, or the default maximum when it names none. */
  maxOutputTokens: number;
}

/** The largest image cost among the clouds served (Anthropic: about 1,600 tokens for a full-size image). */
export const TOKENS_PER_IMAGE_MAX = 2000;
/** Output assumed when a request sets no max_tokens: a ceiling for reservations, not a limit sent upstream. */
export const DEFAULT_MAX_OUTPUT_TOKENS = 32_768;
/** A typical answer's size, for rate windows when a request sets no max_tokens (settled to the real usage after). */
export const TYPICAL_OUTPUT_TOKENS = 1024;
const BYTES_PER_TOKEN = 4;
/** Role markers and message framing the clouds add around each message's text (a generous ceiling). */
const TOKENS_PER_MESSAGE = 16;

export function estimateChat(request: ChatRequest): TokenEstimate {
  let bytes = 0;
  let images = 0;
  for (const message of request.messages) {
    for (const part of message.content) {
      if (part.type === 'text') bytes += Buffer.byteLength(part.text);
      else images++;
    }
    if (message.role === 'assistant') {
      for (const call of message.toolCalls)
        bytes += Buffer.byteLength(call.name) + Buffer.byteLength(call.arguments);
    }
  }
  for (const tool of request.tools) {
    bytes += Buffer.byteLength(tool.name) + Buffer.byteLength(tool.description ?? '');
    if (tool.parameters) bytes += Buffer.byteLength(JSON.stringify(tool.parameters));
  }
  if (request.responseFormat?.type === 'json_schema' && request.responseFormat.schema) {
    bytes += Buffer.byteLength(JSON.stringify(request.responseFormat.schema));
  }
  const choices = request.openai.n ?? 1;
  const framing = request.messages.length * TOKENS_PER_MESSAGE;
  return {
    inputTokens: Math.ceil(bytes / BYTES_PER_TOKEN) + images * TOKENS_PER_IMAGE_MAX + framing,
    inputTokensMax: bytes + images * TOKENS_PER_IMAGE_MAX + framing,
    outputTokens: (request.maxTokens ?? TYPICAL_OUTPUT_TOKENS) * choices,
    maxOutputTokens: (request.maxTokens ?? DEFAULT_MAX_OUTPUT_TOKENS) * choices,
  };
}

export function estimateEmbeddings(request: EmbeddingRequest): TokenEstimate {
  let bytes = 0;
  let tokens = 0;
  for (const input of request.input) {
    if (typeof input === 'string') bytes += Buffer.byteLength(input);
    else tokens += input.length;
  }
  return {
    inputTokens: Math.ceil(bytes / BYTES_PER_TOKEN) + tokens,
    inputTokensMax: bytes + tokens,
    outputTokens: 0,
    maxOutputTokens: 0,
  };
}
