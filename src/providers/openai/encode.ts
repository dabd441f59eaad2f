import type { ChatMessage, ChatRequest, ContentPart, TextPart } from '../../core/chat.ts';

/** How one server of the OpenAI protocol family differs in what it reads. */
export interface OpenAIDialect {
  /** Ollama and older vLLM read only `max_tokens`, never `max_completion_tokens`. */
  legacyMaxTokens: boolean;
}

type JsonObject = Record<string, unknown>;

/** ChatRequest → OpenAI chat-completions body (pure). `model` is the name at the provider. */
export function encodeChatBody(request: ChatRequest, model: string, dialect: OpenAIDialect): JsonObject {
  const body: JsonObject = { model, messages: request.messages.map(encodeMessage) };
  if (request.stream) {
    body.stream = true;
    // Always ask for usage: accounting needs it even when the client did not ask to see it.
    body.stream_options = { include_usage: true };
  }
  if (request.tools.length > 0) {
    body.tools = request.tools.map((t) => ({
      type: 'function',
      function: {
        name: t.name,
        ...(t.description === undefined ? {} : { description: t.description }),
        ...(t.parameters === undefined ? {} : { parameters: t.parameters }),
        ...(t.strict === undefined ? {} : { strict: t.strict }),
      },
    }));
  }
  const choice = request.toolChoice;
  if (choice)
    body.tool_choice =
      choice.type === 'function' ? { type: 'function', function: { name: choice.name } } : choice.type;
  if (request.parallelToolCalls !== undefined) body.parallel_tool_calls = request.parallelToolCalls;
  const format = request.responseFormat;
  if (format) {
    body.response_format =
      format.type === 'json_schema'
        ? {
            type: 'json_schema',
            json_schema: {
              name: format.name,
              ...(format.description === undefined ? {} : { description: format.description }),
              ...(format.schema === undefined ? {} : { schema: format.schema }),
              ...(format.strict === undefined ? {} : { strict: format.strict }),
            },
          }
        : { type: format.type };
  }
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.topP !== undefined) body.top_p = request.topP;
  if (request.maxTokens !== undefined) {
    const field = dialect.legacyMaxTokens
      ? 'max_tokens'
      : (request.maxTokensField ?? 'max_completion_tokens');
    body[field] = request.maxTokens;
  }
  if (request.stop.length > 0) body.stop = request.stop;
  if (request.seed !== undefined) body.seed = request.seed;
  if (request.user !== undefined) body.user = request.user;
  const o = request.openai;
  if (o.n !== undefined) body.n = o.n;
  if (o.logprobs !== undefined) body.logprobs = o.logprobs;
  if (o.topLogprobs !== undefined) body.top_logprobs = o.topLogprobs;
  if (o.frequencyPenalty !== undefined) body.frequency_penalty = o.frequencyPenalty;
  if (o.presencePenalty !== undefined) body.presence_penalty = o.presencePenalty;
  if (o.logitBias !== undefined) body.logit_bias = o.logitBias;
  Object.assign(body, o.passthrough);
  return body;
}

function joinTexts(parts: TextPart[]): string {
  return parts.length === 1 ? (parts[0]?.text ?? '') : parts.map((p) => p.text).join('\n');
}

function encodeUserContent(parts: ContentPart[]): string | JsonObject[] {
  if (parts.length === 1 && parts[0]?.type === 'text') return parts[0].text;
  return parts.map((p) =>
    p.type === 'text'
      ? { type: 'text', text: p.text }
      : { type: 'image_url', image_url: { url: p.url, ...(p.detail ? { detail: p.detail } : {}) } },
  );
}

function encodeMessage(m: ChatMessage): JsonObject {
  switch (m.role) {
    case 'system':
    case 'developer':
      return { role: m.role, content: joinTexts(m.content), ...(m.name ? { name: m.name } : {}) };
    case 'user':
      return { role: 'user', content: encodeUserContent(m.content), ...(m.name ? { name: m.name } : {}) };
    case 'assistant':
      return {
        role: 'assistant',
        content: m.content.length > 0 ? joinTexts(m.content) : null,
        ...(m.refusal ? { refusal: m.refusal } : {}),
        ...(m.toolCalls.length > 0
          ? {
              tool_calls: m.toolCalls.map((c) => ({
                id: c.id,
                type: 'function',
                function: { name: c.name, arguments: c.arguments },
              })),
            }
          : {}),
        ...(m.name ? { name: m.name } : {}),
      };
    case 'tool':
      return { role: 'tool', tool_call_id: m.toolCallId, content: joinTexts(m.content) };
  }
}
