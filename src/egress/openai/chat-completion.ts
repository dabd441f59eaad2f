import type { ChatEvent, FinishReason, TokenLogprob, Usage } from '../../core/chat.ts';
import { encodeUsage } from './usage.ts';

export interface CompletionMeta {
  id: string;
  model: string;
  created: number;
}

interface ChoiceState {
  text: string;
  refusal: string | undefined;
  logprobs: TokenLogprob[] | undefined;
  toolCalls: Map<number, { id: string; name: string; arguments: string }>;
  finishReason: FinishReason | undefined;
}

/** Collects a whole event stream into OpenAI's `chat.completion` body. */
export function collectCompletion(
  events: Iterable<ChatEvent>,
  meta: CompletionMeta,
): Record<string, unknown> {
  const choices = new Map<number, ChoiceState>();
  const choice = (index: number): ChoiceState => {
    let state = choices.get(index);
    if (!state) {
      state = {
        text: '',
        refusal: undefined,
        logprobs: undefined,
        toolCalls: new Map(),
        finishReason: undefined,
      };
      choices.set(index, state);
    }
    return state;
  };
  let usage: Usage | undefined;
  let fingerprint: string | undefined;
  for (const event of events) {
    switch (event.type) {
      case 'start':
        fingerprint = event.systemFingerprint;
        choice(0);
        break;
      case 'text': {
        const state = choice(event.choice);
        state.text += event.text;
        if (event.logprobs) state.logprobs = [...(state.logprobs ?? []), ...event.logprobs];
        break;
      }
      case 'refusal':
        choice(event.choice).refusal = (choice(event.choice).refusal ?? '') + event.text;
        break;
      case 'tool_call_start':
        choice(event.choice).toolCalls.set(event.index, { id: event.id, name: event.name, arguments: '' });
        break;
      case 'tool_call_delta': {
        const call = choice(event.choice).toolCalls.get(event.index);
        if (call) call.arguments += event.arguments;
        break;
      }
      case 'usage':
        usage = event.usage;
        break;
      case 'finish':
        choice(event.choice).finishReason = event.reason;
        break;
    }
  }
  const body: Record<string, unknown> = {
    id: meta.id,
    object: 'chat.completion',
    created: meta.created,
    model: meta.model,
    choices: [...choices.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, state]) => ({
        index,
        message: {
          role: 'assistant',
          content: state.text === '' && (state.toolCalls.size > 0 || state.refusal) ? null : state.text,
          refusal: state.refusal ?? null,
          ...(state.toolCalls.size > 0
            ? {
                tool_calls: [...state.toolCalls.entries()]
                  .sort(([a], [b]) => a - b)
                  .map(([, c]) => ({
                    id: c.id,
                    type: 'function',
                    // A call with no argument text still needs valid JSON arguments.
                    function: { name: c.name, arguments: c.arguments === '' ? '{}' : c.arguments },
                  })),
              }
            : {}),
        },
        logprobs: state.logprobs ? { content: state.logprobs, refusal: null } : null,
        finish_reason: state.finishReason ?? 'stop',
      })),
  };
  if (usage) body.usage = encodeUsage(usage);
  body.system_fingerprint = fingerprint ?? null;
  return body;
}
