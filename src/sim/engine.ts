/**
 * The cloud-neutral "model" behind every simulated cloud. It decides WHAT is answered; the protocol
 * modules (openai.ts, azure.ts, ...) decide how that looks on the wire. Pure and deterministic: the
 * same request always gives the same script, so tests can assert exact text.
 *
 * Rules (also in src/sim/README.md):
 * - Default reply: `Hello from <label> (<model>). You said: <last user text>`, plus
 *   ` Saw N image(s).` when the last user message carries images.
 * - Trailing tool messages: `Tool results: <id1>=<content1>; <id2>=<content2>`.
 * - Directives in the last user text: `[sim:words=N]` (reply exactly N words),
 *   `[sim:finish=content_filter]` (the prompt trips the content filter), `[sim:tool]` (call tools
 *   under tool_choice auto).
 * - Token accounting: a completion token is one whitespace-separated word (with its leading
 *   whitespace) or one tool-argument fragment. Prompt tokens = words of all message texts
 *   + 85 per image + 10 per tool definition.
 */

import { createHash } from 'node:crypto';
import { sampleFromSchema } from './schema-sample.ts';

export type SimRole = 'system' | 'developer' | 'user' | 'assistant' | 'tool';

export interface SimMessage {
  role: SimRole;
  /** All text parts of the message joined with a single space. */
  text: string;
  /** Number of image parts (user messages). */
  images: number;
  /** For tool results: the call they answer. */
  toolCallId?: string;
  /** For assistant messages: the ids of the tool calls it made. */
  toolCallIds?: string[];
}

export interface SimTool {
  name: string;
  /** JSON Schema of the arguments; absent means no parameters. */
  parameters?: unknown;
}

export type SimToolChoice = 'auto' | 'none' | 'required' | { name: string };

export type SimResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; schema?: unknown };

export interface SimRequest {
  /** The model id or deployment name serving the request (appears in the default reply). */
  model: string;
  /** The cloud's display label, e.g. "simulated Azure OpenAI". */
  label: string;
  messages: SimMessage[];
  tools?: SimTool[];
  toolChoice?: SimToolChoice;
  parallelToolCalls?: boolean;
  maxTokens?: number;
  stop?: string[];
  responseFormat?: SimResponseFormat;
  /** Number of choices; protocols of clouds without `n` pass 1. */
  n?: number;
}

export interface SimToolCall {
  id: string;
  name: string;
  /** The complete arguments JSON text (possibly cut short by maxTokens). */
  argumentsJson: string;
  /** The same text split the way a stream delivers it; joining gives argumentsJson. */
  fragments: string[];
}

export type SimFinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

export interface SimChoice {
  /** Text tokens; joining them gives the exact reply text. Empty for a pure tool-call turn. */
  tokens: string[];
  toolCalls: SimToolCall[];
  finishReason: SimFinishReason;
}

export interface SimScript {
  choices: SimChoice[];
  usage: { promptTokens: number; completionTokens: number };
  /** Set when `[sim:finish=content_filter]` made the prompt trip the cloud's content filter. */
  contentFilter?: 'prompt';
}

export interface SimDirectives {
  words?: number;
  contentFilter: boolean;
  tool: boolean;
}

/** Tool arguments stream in pieces of this many characters, like a tokenizer's small JSON tokens. */
const FRAGMENT_CHARS = 8;
/** Prompt-token charges for non-text inputs (documented approximations, not any real tokenizer). */
const TOKENS_PER_IMAGE = 85;
const TOKENS_PER_TOOL = 10;

export function parseDirectives(text: string): SimDirectives {
  const words = /\[sim:words=(\d+)\]/.exec(text);
  return {
    ...(words ? { words: Number(words[1]) } : {}),
    contentFilter: text.includes('[sim:finish=content_filter]'),
    tool: text.includes('[sim:tool]'),
  };
}

export function countWords(text: string): number {
  let count = 0;
  for (const _ of text.matchAll(/\S+/g)) count++;
  return count;
}

/** Splits text into word tokens that keep their leading whitespace, so `tokens.join('') === text`. */
export function tokenize(text: string): string[] {
  const tokens: string[] = text.match(/\s*\S+/g) ?? [];
  const rest = text.length - tokens.reduce((n, t) => n + t.length, 0);
  if (rest > 0) {
    // Trailing (or only) whitespace rides on the last token so nothing is lost.
    if (tokens.length === 0) tokens.push(text);
    else tokens[tokens.length - 1] += text.slice(text.length - rest);
  }
  return tokens;
}

export function fragment(json: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < json.length; i += FRAGMENT_CHARS) out.push(json.slice(i, i + FRAGMENT_CHARS));
  return out;
}

export function promptTokens(request: Pick<SimRequest, 'messages' | 'tools'>): number {
  let total = 0;
  for (const m of request.messages) total += countWords(m.text) + TOKENS_PER_IMAGE * m.images;
  return total + TOKENS_PER_TOOL * (request.tools?.length ?? 0);
}

/** `call_` + 24 characters derived from the conversation, so ids are stable yet differ per turn. */
export function toolCallId(seed: string): string {
  return `call_${createHash('sha256').update(seed).digest('base64url').replace(/[-_]/g, 'x').slice(0, 24)}`;
}

function lastUserMessage(messages: SimMessage[]): SimMessage | undefined {
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i]!.role === 'user') return messages[i];
  return undefined;
}

function trailingToolResults(messages: SimMessage[]): SimMessage[] {
  let start = messages.length;
  while (start > 0 && messages[start - 1]!.role === 'tool') start--;
  return messages.slice(start);
}

function pickTools(
  request: SimRequest,
  lastUserText: string,
  directives: SimDirectives,
  lastIsUser: boolean,
) {
  const tools = request.tools ?? [];
  const choice = request.toolChoice ?? 'auto';
  if (tools.length === 0 || choice === 'none') return [];
  let picked: SimTool[];
  if (typeof choice === 'object') {
    picked = [tools.find((t) => t.name === choice.name) ?? { name: choice.name }];
  } else if (choice === 'required') {
    picked = tools;
  } else if (!lastIsUser) {
    // Under auto, only a fresh user turn triggers calls; otherwise a tool loop would never end.
    picked = [];
  } else if (directives.tool) {
    picked = tools;
  } else {
    picked = tools.filter((t) => lastUserText.includes(t.name));
  }
  return request.parallelToolCalls === false ? picked.slice(0, 1) : picked;
}

function replyText(request: SimRequest, last: SimMessage | undefined, directives: SimDirectives): string {
  const results = trailingToolResults(request.messages);
  if (results.length > 0) {
    return `Tool results: ${results.map((m) => `${m.toolCallId ?? ''}=${m.text}`).join('; ')}`;
  }
  const images = last && last.images > 0 ? ` Saw ${last.images} image(s).` : '';
  const text = `Hello from ${request.label} (${request.model}). You said: ${last?.text ?? ''}${images}`;
  const format = request.responseFormat;
  if (format?.type === 'json_object') return JSON.stringify({ reply: text });
  if (format?.type === 'json_schema') return JSON.stringify(sampleFromSchema(format.schema));
  if (directives.words !== undefined) {
    return Array.from({ length: directives.words }, (_, i) => `word${i + 1}`).join(' ');
  }
  return text;
}

/** Cuts text before the first occurrence of any stop sequence. */
export function applyStop(text: string, stop: string[] | undefined): string {
  let cut = text.length;
  for (const s of stop ?? []) {
    if (s === '') continue;
    const at = text.indexOf(s);
    if (at !== -1 && at < cut) cut = at;
  }
  return text.slice(0, cut);
}

function buildChoice(request: SimRequest): SimChoice {
  const messages = request.messages;
  const last = lastUserMessage(messages);
  const lastIsUser = messages.length > 0 && messages[messages.length - 1]!.role === 'user';
  const directives = parseDirectives(lastIsUser && last ? last.text : '');
  const limit = request.maxTokens ?? Number.POSITIVE_INFINITY;

  if (directives.contentFilter) return { tokens: [], toolCalls: [], finishReason: 'content_filter' };

  const tools = pickTools(request, last?.text ?? '', directives, lastIsUser);
  if (tools.length > 0) {
    // maxTokens is a budget shared by all calls: a call past it is cut mid-JSON, as real models do.
    let budget = limit;
    const toolCalls: SimToolCall[] = [];
    for (const [i, tool] of tools.entries()) {
      if (budget <= 0) break;
      const full = fragment(JSON.stringify(sampleFromSchema(tool.parameters)));
      const fragments = full.slice(0, budget);
      budget -= fragments.length;
      const seed = `${request.model}|${messages.length}|${last?.text ?? ''}|${i}|${tool.name}`;
      toolCalls.push({ id: toolCallId(seed), name: tool.name, argumentsJson: fragments.join(''), fragments });
    }
    const total = tools.reduce(
      (n, t) => n + fragment(JSON.stringify(sampleFromSchema(t.parameters))).length,
      0,
    );
    return { tokens: [], toolCalls, finishReason: total > limit ? 'length' : 'tool_calls' };
  }

  const tokens = tokenize(applyStop(replyText(request, last, directives), request.stop));
  if (tokens.length > limit) return { tokens: tokens.slice(0, limit), toolCalls: [], finishReason: 'length' };
  return { tokens, toolCalls: [], finishReason: 'stop' };
}

function completionTokens(choice: SimChoice): number {
  return choice.tokens.length + choice.toolCalls.reduce((n, c) => n + c.fragments.length, 0);
}

/** Decides the whole answer for a request. */
export function runEngine(request: SimRequest): SimScript {
  // n > 1 gives n identical choices: the script stays deterministic and easy to assert.
  const n = Math.max(1, request.n ?? 1);
  const choice = buildChoice(request);
  const choices = Array.from({ length: n }, () => choice);
  const script: SimScript = {
    choices,
    usage: {
      promptTokens: promptTokens(request),
      completionTokens: choices.reduce((sum, c) => sum + completionTokens(c), 0),
    },
  };
  if (choices[0]?.finishReason === 'content_filter') script.contentFilter = 'prompt';
  return script;
}

/**
 * A deterministic unit-length embedding of `input`: sha256 in counter mode gives the raw values,
 * rounded to float32 so the JSON float and base64 float32 encodings carry identical numbers.
 */
export function embed(input: string, dimensions: number): number[] {
  const raw: number[] = [];
  for (let block = 0; raw.length < dimensions; block++) {
    const digest = createHash('sha256').update(`${block}\u0000${input}`).digest();
    for (let i = 0; i + 2 <= digest.length && raw.length < dimensions; i += 2) {
      raw.push(digest.readUInt16LE(i) / 32767.5 - 1);
    }
  }
  const norm = Math.sqrt(raw.reduce((s, v) => s + v * v, 0)) || 1;
  return raw.map((v) => Math.fround(v / norm));
}
