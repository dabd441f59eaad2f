import type { ChatEvent, FinishReason, TokenLogprob, Usage } from '../../core/chat.ts';
import { asArray, asNumber, asObject, asString, type JsonObject, tryParseJson } from '../../core/json.ts';
import { createSseChatDecoder, protocolError } from '../shared/sse-decoder.ts';
import { type ChatStreamDecoder, UpstreamError } from '../types.ts';
import { failureFromErrorBody } from './errors.ts';

export function mapFinishReason(reason: unknown): FinishReason {
  switch (reason) {
    case 'length':
      return 'length';
    case 'tool_calls':
    case 'function_call':
      return 'tool_calls';
    case 'content_filter':
      return 'content_filter';
    default:
      return 'stop';
  }
}

export function decodeUsage(value: unknown): Usage | undefined {
  const u = asObject(value);
  if (!u) return undefined;
  const promptTokens = asNumber(u.prompt_tokens) ?? 0;
  const completionTokens = asNumber(u.completion_tokens) ?? 0;
  const usage: Usage = {
    promptTokens,
    completionTokens,
    totalTokens: asNumber(u.total_tokens) ?? promptTokens + completionTokens,
  };
  const promptDetails = asObject(u.prompt_tokens_details);
  const cached = asNumber(promptDetails?.cached_tokens);
  if (cached) usage.cachedTokens = cached;
  const cacheWrite = asNumber(promptDetails?.cache_write_tokens);
  if (cacheWrite) usage.cacheWriteTokens = cacheWrite;
  const reasoning = asNumber(asObject(u.completion_tokens_details)?.reasoning_tokens);
  if (reasoning) usage.reasoningTokens = reasoning;
  return usage;
}

function startEvent(body: JsonObject): ChatEvent {
  const event: ChatEvent = { type: 'start' };
  const id = asString(body.id);
  if (id) event.id = id;
  const created = asNumber(body.created);
  if (created) event.created = created;
  const model = asString(body.model);
  if (model) event.model = model;
  const fingerprint = asString(body.system_fingerprint);
  if (fingerprint) event.systemFingerprint = fingerprint;
  return event;
}

function logprobsOf(choice: JsonObject): TokenLogprob[] | undefined {
  const content = asObject(choice.logprobs)?.content;
  return Array.isArray(content) ? (content.filter((x) => asObject(x)) as TokenLogprob[]) : undefined;
}

/** A complete (non-streaming) chat.completion body → events (pure). */
export function decodeChatCompletion(value: unknown): ChatEvent[] {
  const body = asObject(value);
  if (!body) throw protocolError('the response body is not a JSON object');
  if (body.error !== undefined) throw new UpstreamError(failureFromErrorBody(body, 200));
  const events: ChatEvent[] = [startEvent(body)];
  for (const raw of asArray(body.choices)) {
    const choice = asObject(raw);
    if (!choice) continue;
    const index = asNumber(choice.index) ?? 0;
    const message = asObject(choice.message) ?? {};
    const text = asString(message.content);
    const logprobs = logprobsOf(choice);
    if (text) events.push({ type: 'text', choice: index, text, ...(logprobs ? { logprobs } : {}) });
    const refusal = asString(message.refusal);
    if (refusal) events.push({ type: 'refusal', choice: index, text: refusal });
    asArray(message.tool_calls).forEach((rawCall, callIndex) => {
      const call = asObject(rawCall);
      const fn = asObject(call?.function);
      if (!call || !fn) return;
      events.push({
        type: 'tool_call_start',
        choice: index,
        index: callIndex,
        id: asString(call.id) ?? `call_${callIndex}`,
        name: asString(fn.name) ?? '',
      });
      events.push({
        type: 'tool_call_delta',
        choice: index,
        index: callIndex,
        arguments: asString(fn.arguments) ?? '',
      });
    });
    const reason = mapFinishReason(choice.finish_reason);
    // Some servers (older Ollama, Gemini's compat layer) say "stop" after tool calls.
    const hasToolCalls = asArray(message.tool_calls).length > 0;
    events.push({
      type: 'finish',
      choice: index,
      reason: reason === 'stop' && hasToolCalls ? 'tool_calls' : reason,
    });
  }
  const usage = decodeUsage(body.usage);
  if (usage) events.push({ type: 'usage', usage });
  return events;
}

/**
 * The fast path for the family's most frequent chunk, a text delta. Such chunks repeat one shape
 * for a whole stream: the same keys in the same order, the same id, model and numbers, and only
 * value strings changing (the content, OpenAI's `obfuscation` padding, Azure's filter severities).
 * So the first one is parsed in full, and if it is a plain text chunk (see plainTextChoice) its
 * text becomes a template: the constant text between value strings, the learned value of each, and
 * the slot where the content goes. A later chunk that matches the template outside its value
 * strings has, by construction, the same keys, nesting, numbers and literals as the learned one:
 * JSON.parse would give the same object with other strings at the holes, and no hole is at a field
 * the decoder reads (plainTextChoice makes sure of that), so its only event is the text. Anything
 * else (a usage, finish, error, tool or logprobs chunk, a second choice, a key added, an escape in a
 * hole) misses the template and takes the full path.
 */
interface TextChunkTemplate {
  /** The text around the value strings: constants[i] ends with gap i's opening quote. */
  readonly constants: readonly string[];
  /** Per gap, its learned value and the constant after it, tried first; unused for the slot. */
  readonly probes: readonly string[];
  /** The gap holding delta.content. */
  readonly slot: number;
  /** Everything before the content's first character when every earlier value is as learned. */
  readonly prefix: string;
  readonly choice: number;
}

/** Learning again after misses is cheap, but a stream whose chunks never repeat stops trying. */
const MAX_BARREN_LEARNINGS = 3;

/**
 * The one choice of a chunk whose only event is a text delta, or undefined. Every field the
 * decoder reads besides delta.content must be absent or null, so no learned string sits there.
 */
function plainTextChoice(chunk: JsonObject): number | undefined {
  if (chunk.error !== undefined || chunk.usage != null) return undefined;
  const choices = chunk.choices;
  if (!Array.isArray(choices) || choices.length !== 1) return undefined;
  const choice = asObject(choices[0]);
  if (!choice || choice.finish_reason != null || choice.logprobs != null) return undefined;
  const delta = asObject(choice.delta);
  if (!delta || delta.refusal != null || delta.tool_calls != null) return undefined;
  if (typeof delta.content !== 'string' || delta.content === '') return undefined;
  return asNumber(choice.index) ?? 0;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** The closing quote of the JSON string whose content starts at `from` (escapes skipped), or -1. */
function stringEnd(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) return i;
    if (c === BACKSLASH) i++;
  }
  return -1;
}

/**
 * A template from the text of a chunk JSON.parse accepted and plainTextChoice approved, or
 * undefined when a key or a learned value has an escape (rare; matching then stays simple).
 */
function learnTextChunk(data: string, choice: number): TextChunkTemplate | undefined {
  const constants: string[] = [];
  const learned: string[] = [];
  let slot = -1;
  let constantStart = 0;
  /** Per open container, the key (objects) or element index (arrays) being read. */
  const path: (string | number)[] = [];
  /** Per open container: an object expecting a key next. */
  const expectsKey: boolean[] = [];
  for (let i = 0; i < data.length; i++) {
    const c = data.charCodeAt(i);
    const top = path.length - 1;
    if (c === QUOTE) {
      const end = stringEnd(data, i + 1);
      if (end < 0) return undefined;
      const inner = data.slice(i + 1, end);
      if (top >= 0 && expectsKey[top]) {
        if (inner.includes('\\')) return undefined;
        path[top] = inner;
        expectsKey[top] = false;
      } else {
        const isContent =
          path.length === 4 &&
          path[0] === 'choices' &&
          path[1] === 0 &&
          path[2] === 'delta' &&
          path[3] === 'content';
        if (isContent) {
          // A duplicated key: JSON.parse keeps the last one, so do not guess which.
          if (slot >= 0) return undefined;
          slot = learned.length;
        } else if (inner.includes('\\')) return undefined;
        // Copies: the template lives as long as the stream, the read it was sliced from does not.
        constants.push(detached(data.slice(constantStart, i + 1)));
        learned.push(detached(inner));
        constantStart = end;
      }
      i = end;
    } else if (c === 0x7b /* { */) {
      path.push('');
      expectsKey.push(true);
    } else if (c === 0x5b /* [ */) {
      path.push(0);
      expectsKey.push(false);
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      path.pop();
      expectsKey.pop();
    } else if (c === 0x2c /* , */ && top >= 0) {
      const at = path[top];
      if (typeof at === 'number') path[top] = at + 1;
      else expectsKey[top] = true;
    }
  }
  constants.push(detached(data.slice(constantStart)));
  if (slot < 0) return undefined;
  const probes = learned.map((value, gap) => value + constants[gap + 1]);
  let prefix = constants[0] ?? '';
  for (let gap = 0; gap < slot; gap++) prefix += probes[gap];
  return { constants, probes, slot, prefix, choice };
}

/**
 * The text of a chunk that matches the template, or undefined (the chunk then takes the full
 * path). Holes accept any string without escapes or control characters; the content accepts any
 * valid JSON string, decoded by JSON.parse when it has escapes so it means exactly what it would
 * in the whole chunk.
 */
function matchTextChunk(template: TextChunkTemplate, data: string): string | undefined {
  const { constants, probes, slot } = template;
  let pos: number;
  let gap: number;
  if (textAt(data, 0, template.prefix)) {
    pos = template.prefix.length;
    gap = slot;
  } else {
    const first = constants[0] ?? '';
    if (!textAt(data, 0, first)) return undefined;
    pos = first.length;
    gap = 0;
  }
  let text: string | undefined;
  for (; gap < probes.length; gap++) {
    const next = constants[gap + 1] ?? '';
    let end: number;
    if (gap === slot) {
      end = stringEnd(data, pos);
      if (end <= pos) return undefined;
      text = contentOf(data, pos, end);
      if (text === undefined) return undefined;
    } else {
      const probe = probes[gap] ?? '';
      if (textAt(data, pos, probe)) {
        pos += probe.length;
        continue;
      }
      end = data.indexOf('"', pos);
      if (end < 0 || !isPlainString(data, pos, end)) return undefined;
    }
    if (!textAt(data, end, next)) return undefined;
    pos = end + next.length;
  }
  return pos === data.length ? text : undefined;
}

/**
 * text.startsWith(part, at), at memcmp speed: V8's startsWith compares character by character
 * (about 4 ns each, 1 µs for a 230-character prefix), a slice compared with === does not.
 */
function textAt(text: string, at: number, part: string): boolean {
  return text.slice(at, at + part.length) === part;
}

/** True when text[from, to) has no escape and no control character (which JSON forbids raw). */
function isPlainString(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === BACKSLASH || c < 0x20) return false;
  }
  return true;
}

/**
 * V8 makes a slice of this many characters or more a view into its parent string (here a whole
 * network read, up to 64 KiB) instead of a copy: anything kept longer than the read must be copied.
 */
const SHARED_SLICE_LENGTH = 13;

/** A copy of `text` that keeps no larger string alive (see SHARED_SLICE_LENGTH). */
function detached(text: string): string {
  return text.length < SHARED_SLICE_LENGTH ? text : (JSON.parse(JSON.stringify(text)) as string);
}

/**
 * The content string text[from, to) decoded, or undefined when it is not valid JSON. Short plain
 * strings are sliced (a copy); longer ones go through JSON.parse like escaped ones, so the text,
 * which a collected response body keeps, does not hold the network read alive.
 */
function contentOf(text: string, from: number, to: number): string | undefined {
  if (to - from < SHARED_SLICE_LENGTH && isPlainString(text, from, to)) return text.slice(from, to);
  const decoded = tryParseJson(text.slice(from - 1, to + 1));
  return typeof decoded === 'string' ? decoded : undefined;
}

/**
 * Incremental SSE decoder for chat.completion.chunk streams. Tolerates the family's quirks: Azure's
 * first chunk with `choices: []` and empty id, tool-call deltas without `index` or with the whole
 * call at once (Ollama), a first tool delta without a name (buffered until it arrives).
 */
export function createChatStreamDecoder(): ChatStreamDecoder {
  return createChatChunkDecoder({ textFastPath: true });
}

/**
 * The stream decoder with the text-chunk fast path on or off. Off, every chunk is parsed in full:
 * the reference the fast path is tested against (same events, same failures, for any stream).
 */
export function createChatChunkDecoder(options: { textFastPath: boolean }): ChatStreamDecoder {
  const { textFastPath } = options;
  /** The shared decoder's output list of the event being handled (see createSseChatDecoder). */
  let out: ChatEvent[] = [];
  let started = false;
  /**
   * The first chunk's `start`, held until output goes with it: the role chunk carries nothing to
   * show, and an in-band `data: {"error": ...}` right after it must still fail over invisibly.
   */
  let pendingStart: ChatEvent | undefined;
  let done = false;
  let sawFinish = false;
  /** Per choice: upstream tool-call index → state, so ids and names are emitted exactly once. */
  const toolCalls = new Map<string, { started: boolean; id: string; name: string; pendingArgs: string }>();
  const nextToolIndex = new Map<number, number>();
  /** The text-chunk fast path (see TextChunkTemplate). */
  let template: TextChunkTemplate | undefined;
  let learnings = 0;
  /** Chunks matched since the last learning: one that never matched is not worth repeating. */
  let hitsSinceLearning = 0;

  /** Queues an output event, the held `start` first. */
  const emit = (event: ChatEvent): void => {
    if (pendingStart) {
      out.push(pendingStart);
      pendingStart = undefined;
    }
    out.push(event);
  };

  const onChunk = (chunk: JsonObject): void => {
    if (!started && asString(chunk.id)) {
      started = true;
      pendingStart = startEvent(chunk);
    }
    for (const raw of asArray(chunk.choices)) {
      const choice = asObject(raw);
      if (!choice) continue;
      const index = asNumber(choice.index) ?? 0;
      const delta = asObject(choice.delta) ?? {};
      const text = asString(delta.content);
      const logprobs = logprobsOf(choice);
      if (text) emit({ type: 'text', choice: index, text, ...(logprobs ? { logprobs } : {}) });
      const refusal = asString(delta.refusal);
      if (refusal) emit({ type: 'refusal', choice: index, text: refusal });
      for (const rawCall of asArray(delta.tool_calls)) onToolDelta(index, asObject(rawCall));
      if (choice.finish_reason != null) {
        sawFinish = true;
        const reason = mapFinishReason(choice.finish_reason);
        // Some servers (older Ollama, Gemini's compat layer) say "stop" after streaming tool calls.
        const calledTools = (nextToolIndex.get(index) ?? 0) > 0;
        emit({
          type: 'finish',
          choice: index,
          reason: reason === 'stop' && calledTools ? 'tool_calls' : reason,
        });
      }
    }
    const usage = decodeUsage(chunk.usage);
    if (usage) emit({ type: 'usage', usage });
  };

  const onToolDelta = (choice: number, call: JsonObject | undefined): void => {
    if (!call) return;
    const fn = asObject(call.function) ?? {};
    const id = asString(call.id);
    let upstreamIndex = asNumber(call.index);
    if (upstreamIndex === undefined) {
      // No index: a delta with an id opens a new call, one without continues the last.
      const next = nextToolIndex.get(choice) ?? 0;
      upstreamIndex = id ? next : Math.max(0, next - 1);
    }
    nextToolIndex.set(choice, Math.max(nextToolIndex.get(choice) ?? 0, upstreamIndex + 1));
    const key = `${choice}:${upstreamIndex}`;
    let state = toolCalls.get(key);
    if (!state) {
      state = { started: false, id: id ?? `call_${choice}_${upstreamIndex}`, name: '', pendingArgs: '' };
      toolCalls.set(key, state);
    }
    if (id && !state.started) state.id = id;
    const name = asString(fn.name);
    if (name && !state.started) state.name = name;
    const args = asString(fn.arguments) ?? '';
    if (!state.started && state.name) {
      state.started = true;
      emit({ type: 'tool_call_start', choice, index: upstreamIndex, id: state.id, name: state.name });
      const buffered = state.pendingArgs + args;
      if (buffered) emit({ type: 'tool_call_delta', choice, index: upstreamIndex, arguments: buffered });
      state.pendingArgs = '';
    } else if (state.started) {
      if (args) emit({ type: 'tool_call_delta', choice, index: upstreamIndex, arguments: args });
    } else {
      state.pendingArgs += args;
    }
  };

  /** Learns a template from a plain text chunk, unless templates have stopped paying off. */
  const learnFrom = (data: string, chunk: JsonObject): void => {
    if (learnings >= MAX_BARREN_LEARNINGS && hitsSinceLearning === 0) return;
    const choice = plainTextChoice(chunk);
    if (choice === undefined) return;
    learnings++;
    hitsSinceLearning = 0;
    template = learnTextChunk(data, choice) ?? template;
  };

  return createSseChatDecoder({
    onEvent(message, sink) {
      out = sink;
      if (done) return;
      if (message.data === '[DONE]') {
        done = true;
        return;
      }
      if (template !== undefined && message.event === undefined) {
        const text = matchTextChunk(template, message.data);
        if (text !== undefined) {
          hitsSinceLearning++;
          emit({ type: 'text', choice: template.choice, text });
          return;
        }
      }
      const parsed = asObject(tryParseJson(message.data));
      if (!parsed) throw protocolError('a stream event is not JSON');
      if (message.event === 'error' || parsed.error !== undefined) {
        throw new UpstreamError(
          failureFromErrorBody(parsed.error === undefined ? { error: parsed } : parsed, 200),
        );
      }
      onChunk(parsed);
      // Learned only once started: a matched chunk must not be the one whose id starts the stream.
      if (textFastPath && started && message.event === undefined) learnFrom(message.data, parsed);
    },
    onEnd() {
      // `data: [DONE]` is the family's end marker: without it the stream was cut.
      if (!done) {
        throw protocolError(
          sawFinish ? 'the stream was cut after its finish chunk' : 'the stream ended before it was complete',
        );
      }
    },
  });
}
