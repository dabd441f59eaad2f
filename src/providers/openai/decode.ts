import type { ChatEvent, FinishReason, TokenLogprob, Usage } from '../../core/chat.ts';
import { asArray, asNumber, asObject, asString, type JsonObject, tryParseJson } from '../../core/json.ts';
import { createSseChatDecoder, protocolError } from '../shared/sse-decoder.ts';
import { type ChatStreamDecoder, UpstreamError } from '../types.ts';
import { failureFromErrorBody } from './errors.ts';
import {
  learnTextChunk,
  MAX_BARREN_LEARNINGS,
  matchTextChunk,
  plainTextChoice,
  type TextChunkTemplate,
} from './text-chunk-template.ts';

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
