import type {
  ChatMessage,
  ChatRequest,
  ContentPart,
  OpenAIOnlyParams,
  ResponseFormat,
  TextPart,
  ToolChoice,
} from '../../core/chat.ts';
import { invalidRequest } from '../../core/errors.ts';
import { checkChatBodyBounds } from './bounds.ts';
import { chatBodySchema, type OpenAIChatBody, PASSTHROUGH_FIELDS } from './chat-schema.ts';
import { issuesToError } from './issues.ts';

/** Validates an OpenAI chat-completions body and turns it into the neutral ChatRequest. */
export function parseChatBody(json: unknown): ChatRequest {
  checkChatBodyBounds(json);
  const parsed = chatBodySchema.safeParse(json, { reportInput: true });
  if (!parsed.success) throw issuesToError(parsed.error.issues);
  const body = parsed.data;
  checkCrossFieldRules(body);

  const stream = body.stream === true;
  const request: ChatRequest = {
    model: body.model,
    messages: body.messages.map(toChatMessage),
    stream,
    includeUsage: stream && body.stream_options?.include_usage === true,
    tools: (body.tools ?? []).map(({ function: f }) => ({
      name: f.name,
      ...(f.description === undefined ? {} : { description: f.description }),
      ...(f.parameters === undefined ? {} : { parameters: f.parameters }),
      ...(f.strict == null ? {} : { strict: f.strict }),
    })),
    stop: body.stop == null ? [] : typeof body.stop === 'string' ? [body.stop] : body.stop,
    openai: toOpenAIOnly(body),
  };
  const toolChoice = toToolChoice(body.tool_choice);
  if (toolChoice) request.toolChoice = toolChoice;
  if (body.parallel_tool_calls !== undefined) request.parallelToolCalls = body.parallel_tool_calls;
  const responseFormat = toResponseFormat(body.response_format);
  if (responseFormat) request.responseFormat = responseFormat;
  if (body.temperature != null) request.temperature = body.temperature;
  if (body.top_p != null) request.topP = body.top_p;
  if (body.max_completion_tokens != null) {
    request.maxTokens = body.max_completion_tokens;
    request.maxTokensField = 'max_completion_tokens';
  } else if (body.max_tokens != null) {
    request.maxTokens = body.max_tokens;
    request.maxTokensField = 'max_tokens';
  }
  if (body.seed != null) request.seed = body.seed;
  if (body.user !== undefined) request.user = body.user;
  return request;
}

/** Rules OpenAI enforces across fields; checked here so every cloud sees the same answer. */
function checkCrossFieldRules(body: OpenAIChatBody): void {
  if (body.stream_options != null && body.stream !== true) {
    throw invalidRequest('stream_options', 'is only allowed when stream is true');
  }
  if (body.top_logprobs != null && body.logprobs !== true) {
    throw invalidRequest('top_logprobs', 'requires logprobs to be true');
  }
  const toolNames = new Set((body.tools ?? []).map((t) => t.function.name));
  if (body.tool_choice !== undefined && body.tool_choice !== 'none' && toolNames.size === 0) {
    throw invalidRequest('tool_choice', 'is only allowed when tools are specified');
  }
  if (typeof body.tool_choice === 'object' && !toolNames.has(body.tool_choice.function.name)) {
    throw invalidRequest(
      'tool_choice.function.name',
      `names no tool in tools: "${body.tool_choice.function.name}"`,
    );
  }
  if (body.parallel_tool_calls !== undefined && toolNames.size === 0) {
    throw invalidRequest('parallel_tool_calls', 'is only allowed when tools are specified');
  }
  // A tool result must answer a tool call made earlier in the conversation.
  const calledIds = new Set<string>();
  body.messages.forEach((m, i) => {
    if (m.role === 'assistant') for (const call of m.tool_calls ?? []) calledIds.add(call.id);
    if (m.role === 'tool' && !calledIds.has(m.tool_call_id)) {
      throw invalidRequest(
        `messages[${i}].tool_call_id`,
        `must answer a tool call of an earlier assistant message ("${m.tool_call_id}" was not found)`,
      );
    }
  });
}

function texts(content: string | { type: 'text'; text: string }[]): TextPart[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  return content.map((p) => ({ type: 'text', text: p.text }));
}

function toChatMessage(m: OpenAIChatBody['messages'][number]): ChatMessage {
  switch (m.role) {
    case 'system':
    case 'developer':
      return { role: m.role, content: texts(m.content), ...(m.name ? { name: m.name } : {}) };
    case 'user': {
      const content: ContentPart[] =
        typeof m.content === 'string'
          ? [{ type: 'text', text: m.content }]
          : m.content.map((p) =>
              p.type === 'text'
                ? { type: 'text', text: p.text }
                : {
                    type: 'image',
                    url: p.image_url.url,
                    ...(p.image_url.detail ? { detail: p.image_url.detail } : {}),
                  },
            );
      return { role: 'user', content, ...(m.name ? { name: m.name } : {}) };
    }
    case 'assistant': {
      const content: TextPart[] = [];
      let refusal = m.refusal ?? undefined;
      if (typeof m.content === 'string') {
        if (m.content !== '') content.push({ type: 'text', text: m.content });
      } else if (Array.isArray(m.content)) {
        for (const p of m.content) {
          if (p.type === 'text') content.push({ type: 'text', text: p.text });
          else refusal = p.refusal;
        }
      }
      return {
        role: 'assistant',
        content,
        toolCalls: (m.tool_calls ?? []).map((c) => ({
          id: c.id,
          name: c.function.name,
          arguments: c.function.arguments,
        })),
        ...(refusal ? { refusal } : {}),
        ...(m.name ? { name: m.name } : {}),
      };
    }
    case 'tool':
      return { role: 'tool', toolCallId: m.tool_call_id, content: texts(m.content) };
  }
}

function toToolChoice(choice: OpenAIChatBody['tool_choice']): ToolChoice | undefined {
  if (choice === undefined) return undefined;
  if (typeof choice === 'string') return { type: choice };
  return { type: 'function', name: choice.function.name };
}

function toResponseFormat(format: OpenAIChatBody['response_format']): ResponseFormat | undefined {
  if (format === undefined) return undefined;
  if (format.type !== 'json_schema') return { type: format.type };
  const s = format.json_schema;
  return {
    type: 'json_schema',
    name: s.name,
    ...(s.description === undefined ? {} : { description: s.description }),
    ...(s.schema === undefined ? {} : { schema: s.schema }),
    ...(s.strict == null ? {} : { strict: s.strict }),
  };
}

function toOpenAIOnly(body: OpenAIChatBody): OpenAIOnlyParams {
  const params: OpenAIOnlyParams = { passthrough: {} };
  if (body.n != null) params.n = body.n;
  if (body.logprobs != null) params.logprobs = body.logprobs;
  if (body.top_logprobs != null) params.topLogprobs = body.top_logprobs;
  if (body.frequency_penalty != null) params.frequencyPenalty = body.frequency_penalty;
  if (body.presence_penalty != null) params.presencePenalty = body.presence_penalty;
  if (body.logit_bias != null) params.logitBias = body.logit_bias;
  for (const field of PASSTHROUGH_FIELDS) {
    const value = body[field];
    if (value !== undefined && value !== null) params.passthrough[field] = value;
  }
  return params;
}
