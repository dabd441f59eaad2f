import type { AssistantMessage, ChatMessage, ContentPart, ToolMessage } from '../../core/chat.ts';

/**
 * Shapes every non-OpenAI cloud needs from an OpenAI conversation, computed once here so each
 * adapter only renders: system text pulled out, turns that strictly alternate, tool results of one
 * turn gathered into one user turn, and the tool name behind every tool-call id.
 */

/** One turn of a conversation that alternates user / assistant. */
export type Turn = { role: 'user'; items: UserItem[] } | { role: 'assistant'; items: AssistantItem[] };

/** `index` is the position in ChatRequest.messages, for error params (`messages[3].content[1]`). */
export type UserItem =
  | { kind: 'content'; part: ContentPart; message: number; partIndex: number }
  | { kind: 'tool_result'; toolCallId: string; toolName: string; text: string; message: number };

export type AssistantItem =
  | { kind: 'text'; text: string; message: number }
  | { kind: 'tool_call'; id: string; name: string; arguments: string; message: number };

export interface Conversation {
  /** Leading system and developer messages, in order. */
  system: string[];
  turns: Turn[];
}

/**
 * Leading system/developer messages become the cloud's system field. A system message later in the
 * conversation stays where it is, as a user turn (moving it to the top would change its meaning and
 * break prompt caching). Consecutive same-role messages are merged; tool results join the user turn.
 */
export function toConversation(messages: readonly ChatMessage[]): Conversation {
  const system: string[] = [];
  const turns: Turn[] = [];
  const toolNames = toolNamesById(messages);
  let leading = true;
  const push = <T extends Turn>(role: T['role'], items: T['items']): void => {
    if (items.length === 0) return;
    const last = turns.at(-1);
    if (last && last.role === role) (last.items as unknown[]).push(...items);
    else turns.push({ role, items } as Turn);
  };
  messages.forEach((m, message) => {
    if ((m.role === 'system' || m.role === 'developer') && leading) {
      const text = m.content.map((p) => p.text).join('\n');
      // Clouds refuse empty text blocks; a blank system message says nothing anyway.
      if (text.trim() !== '') system.push(text);
      return;
    }
    leading = false;
    switch (m.role) {
      case 'system':
      case 'developer':
        push<Extract<Turn, { role: 'user' }>>(
          'user',
          m.content
            .map((part, partIndex) => ({ kind: 'content' as const, part, message, partIndex }))
            .filter((item) => item.part.text.trim() !== ''),
        );
        break;
      case 'user':
        push<Extract<Turn, { role: 'user' }>>(
          'user',
          m.content
            .map((part, partIndex) => ({ kind: 'content' as const, part, message, partIndex }))
            .filter((item) => item.part.type !== 'text' || item.part.text.trim() !== ''),
        );
        break;
      case 'assistant':
        push<Extract<Turn, { role: 'assistant' }>>('assistant', assistantItems(m, message));
        break;
      case 'tool':
        push<Extract<Turn, { role: 'user' }>>('user', [toolResult(m, message, toolNames)]);
        break;
    }
  });
  return { system, turns };
}

function assistantItems(m: AssistantMessage, message: number): AssistantItem[] {
  const items: AssistantItem[] = [];
  // Blank text blocks are refused by Bedrock and Anthropic; an assistant turn of only tool calls is common.
  for (const part of m.content)
    if (part.text.trim() !== '') items.push({ kind: 'text', text: part.text, message });
  if (m.refusal && items.length === 0) items.push({ kind: 'text', text: m.refusal, message });
  for (const call of m.toolCalls)
    items.push({ kind: 'tool_call', id: call.id, name: call.name, arguments: call.arguments, message });
  return items;
}

function toolResult(m: ToolMessage, message: number, names: ReadonlyMap<string, string>): UserItem {
  return {
    kind: 'tool_result',
    toolCallId: m.toolCallId,
    toolName: names.get(m.toolCallId) ?? '',
    text: m.content.map((p) => p.text).join('\n'),
    message,
  };
}

/** OpenAI tool messages carry only the call id; Gemini needs the function's name back. */
export function toolNamesById(messages: readonly ChatMessage[]): Map<string, string> {
  const names = new Map<string, string>();
  for (const m of messages) if (m.role === 'assistant') for (const c of m.toolCalls) names.set(c.id, c.name);
  return names;
}

/** Parses tool-call arguments for clouds that want an object; invalid JSON is kept as a string. */
export function parseArguments(text: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : { value };
  } catch {
    return { arguments: text };
  }
}

const SAFE_ID = /^[a-zA-Z0-9_-]{1,64}$/;

/**
 * Bedrock and Anthropic accept tool-call ids of `[a-zA-Z0-9_-]{1,64}` only. Ids from other clouds or
 * made by clients may not fit; the same input always gives the same safe id, so a call and its
 * result still match within a request.
 */
export function safeToolId(id: string): string {
  if (SAFE_ID.test(id)) return id;
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193) >>> 0;
  const cleaned = id.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 55);
  return `${cleaned}_${hash.toString(36)}`.slice(0, 64);
}
