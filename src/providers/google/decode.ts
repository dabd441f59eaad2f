import type { ChatEvent, ChatRequest, FinishReason, Usage } from '../../core/chat.ts';
import { asArray, asNumber, asObject, asString, type JsonObject, tryParseJson } from '../../core/json.ts';
import { modelOutputError } from '../shared/model-output.ts';
import { createSseChatDecoder, protocolError } from '../shared/sse-decoder.ts';
import { type ChatStreamDecoder, UpstreamError } from '../types.ts';
import { failureFromGoogleError } from './errors.ts';
import { encodeToolCallId } from './tool-ids.ts';

/**
 * GenerateContentResponse (one JSON body, or each `data:` chunk of an `alt=sse` stream) → events.
 * A stream chunk holds only new parts; usage rides on every chunk with running totals (the last
 * wins); `finishReason` arrives only on a candidate's last chunk, and there is no `[DONE]`, so a
 * stream is complete exactly when every candidate it mentioned has finished (Gemini API and Vertex AI reference: Streaming (alt=sse)).
 */

const CONTENT_FILTER = new Set([
  'SAFETY',
  'RECITATION',
  'LANGUAGE',
  'BLOCKLIST',
  'PROHIBITED_CONTENT',
  'SPII',
  'IMAGE_SAFETY',
  'IMAGE_PROHIBITED_CONTENT',
  'IMAGE_RECITATION',
]);

/**
 * Reasons that say the model produced bad output (docs/translation.md): no OpenAI finish reason says that.
 * Each names what went wrong for the attempt list a client may see.
 */
const MODEL_OUTPUT_FAILURES: Readonly<Record<string, string>> = {
  MALFORMED_FUNCTION_CALL: 'produced a malformed function call',
  UNEXPECTED_TOOL_CALL: 'called a tool that the request did not enable',
  TOO_MANY_TOOL_CALLS: 'called too many tools in a row',
  MALFORMED_RESPONSE: 'produced a malformed response',
};

/**
 * Gemini finish reason → OpenAI's (docs/translation.md). There is no tool-call reason: STOP after
 * functionCall parts is `tool_calls` (pitfall 14). Bad model output throws a `model_output`
 * failure (retryable, and not held against the deployment's health).
 */
export function mapFinishReason(reason: string, calledTools: boolean): FinishReason {
  // CONTINUATION: the per-request token limit cut the answer, as MAX_TOKENS does.
  if (reason === 'MAX_TOKENS' || reason === 'CONTINUATION') return 'length';
  if (CONTENT_FILTER.has(reason)) return 'content_filter';
  const failure = MODEL_OUTPUT_FAILURES[reason];
  if (failure !== undefined) throw modelOutputError(failure, `Gemini finishReason ${reason}`);
  // STOP, OTHER, FINISH_REASON_UNSPECIFIED, NO_IMAGE, IMAGE_OTHER and reasons newer than this code.
  return calledTools ? 'tool_calls' : 'stop';
}

/** usageMetadata → Usage (docs/translation.md): thoughts count as completion; cached is part of the prompt. */
export function decodeUsage(value: unknown): Usage | undefined {
  const u = asObject(value);
  if (!u) return undefined;
  const prompt = (asNumber(u.promptTokenCount) ?? 0) + (asNumber(u.toolUsePromptTokenCount) ?? 0);
  const thoughts = asNumber(u.thoughtsTokenCount) ?? 0;
  const completion = (asNumber(u.candidatesTokenCount) ?? 0) + thoughts;
  // Computed, not totalTokenCount: clients check total = prompt + completion.
  const usage: Usage = {
    promptTokens: prompt,
    completionTokens: completion,
    totalTokens: prompt + completion,
  };
  const cached = asNumber(u.cachedContentTokenCount);
  if (cached) usage.cachedTokens = cached;
  if (thoughts) usage.reasoningTokens = thoughts;
  return usage;
}

function startEvent(body: JsonObject): ChatEvent {
  const event: ChatEvent = { type: 'start' };
  const id = asString(body.responseId);
  if (id) event.id = id;
  const model = asString(body.modelVersion);
  if (model) event.model = model;
  const created = Date.parse(asString(body.createTime) ?? '');
  if (Number.isFinite(created)) event.created = Math.floor(created / 1000);
  return event;
}

/** Decoding state shared by the whole-body and streaming paths. */
class ResponseDecoder {
  readonly #onlyOneCall: boolean;
  #started = false;
  #responseId = '';
  /** Candidate index → calls emitted so far. */
  readonly #calls = new Map<number, number>();
  readonly #seen = new Set<number>();
  readonly #finished = new Set<number>();
  #blocked = false;
  /**
   * The first chunk's `start`, held until output goes with it: Google may open a stream with a
   * chunk that has no answer in it (only usage, or a thought) and then fail with an error chunk.
   * Until `start` goes out the gateway can still fail over without the client seeing anything.
   */
  #pendingStart: ChatEvent | undefined;
  usage: Usage | undefined;

  constructor(request: ChatRequest) {
    // Gemini cannot be told "one call at a time": with parallel_tool_calls false, extra calls are dropped.
    this.#onlyOneCall = request.parallelToolCalls === false;
  }

  /** Every candidate the response mentioned has finished (or the prompt was blocked). */
  get complete(): boolean {
    if (this.#blocked) return true;
    if (this.#seen.size === 0) return false;
    for (const index of this.#seen) if (!this.#finished.has(index)) return false;
    return true;
  }

  onResponse(body: JsonObject): ChatEvent[] {
    if (body.error !== undefined) throw new UpstreamError(failureFromGoogleError(body, 200));
    const out: ChatEvent[] = [];
    if (!this.#started) {
      this.#started = true;
      this.#responseId = asString(body.responseId) ?? '';
      this.#pendingStart = startEvent(body);
    }
    const usage = decodeUsage(body.usageMetadata);
    if (usage) this.usage = usage;
    const candidates = asArray(body.candidates);
    candidates.forEach((raw, position) => {
      const candidate = asObject(raw);
      if (candidate) this.#onCandidate(candidate, asNumber(candidate.index) ?? position, out);
    });
    // A blocked prompt: HTTP 200, no candidates, promptFeedback.blockReason set.
    const blockReason = asString(asObject(body.promptFeedback)?.blockReason);
    if (candidates.length === 0 && blockReason && !this.#blocked) {
      this.#blocked = true;
      out.push({ type: 'finish', choice: 0, reason: 'content_filter' });
    }
    return this.withStart(out);
  }

  /** Puts the held `start` before the first events that carry output; never sends it alone. */
  withStart(events: ChatEvent[]): ChatEvent[] {
    if (events.length > 0 && this.#pendingStart) {
      events.unshift(this.#pendingStart);
      this.#pendingStart = undefined;
    }
    return events;
  }

  #onCandidate(candidate: JsonObject, choice: number, out: ChatEvent[]): void {
    this.#seen.add(choice);
    for (const rawPart of asArray(asObject(candidate.content)?.parts)) {
      const part = asObject(rawPart);
      if (!part) continue;
      // Thought summaries (includeThoughts) are not answer text.
      if (part.thought === true) continue;
      const text = asString(part.text);
      if (text) out.push({ type: 'text', choice, text });
      const call = asObject(part.functionCall);
      if (call) this.#onFunctionCall(call, asString(part.thoughtSignature), choice, out);
    }
    const reason = asString(candidate.finishReason);
    if (reason && !this.#finished.has(choice)) {
      this.#finished.add(choice);
      out.push({
        type: 'finish',
        choice,
        reason: mapFinishReason(reason, (this.#calls.get(choice) ?? 0) > 0),
      });
    }
  }

  /** A call arrives whole: its start, then one delta with the JSON arguments (pitfall 17). */
  #onFunctionCall(call: JsonObject, signature: string | undefined, choice: number, out: ChatEvent[]): void {
    const index = this.#calls.get(choice) ?? 0;
    if (this.#onlyOneCall && index > 0) return;
    this.#calls.set(choice, index + 1);
    const name = asString(call.name) ?? '';
    const args = JSON.stringify(asObject(call.args) ?? {});
    const geminiId = asString(call.id);
    const id = encodeToolCallId(
      { responseId: this.#responseId, candidate: choice, call: index, name, argumentsJson: args },
      { ...(signature ? { signature } : {}), ...(geminiId ? { geminiId } : {}) },
    );
    out.push({ type: 'tool_call_start', choice, index, id, name });
    out.push({ type: 'tool_call_delta', choice, index, arguments: args });
  }
}

/** A complete generateContent body → events (pure). */
export function decodeGenerateContent(value: unknown, request: ChatRequest): ChatEvent[] {
  const body = asObject(value);
  if (!body) throw protocolError('the response body is not a JSON object');
  const decoder = new ResponseDecoder(request);
  const events = decoder.onResponse(body);
  if (asArray(body.candidates).length === 0 && !decoder.complete) {
    throw protocolError('the response has no candidates');
  }
  // A whole response is complete by definition; a candidate without finishReason ended normally.
  const finished = new Set(events.flatMap((e) => (e.type === 'finish' ? [e.choice] : [])));
  asArray(body.candidates).forEach((raw, position) => {
    const choice = asNumber(asObject(raw)?.index) ?? position;
    if (!finished.has(choice)) {
      finished.add(choice);
      const called = events.some((e) => e.type === 'tool_call_start' && e.choice === choice);
      events.push({ type: 'finish', choice, reason: called ? 'tool_calls' : 'stop' });
    }
  });
  if (decoder.usage) events.push({ type: 'usage', usage: decoder.usage });
  return decoder.withStart(events);
}

/** Incremental decoder of a `streamGenerateContent?alt=sse` body. */
export function createGenerateContentStreamDecoder(request: ChatRequest): ChatStreamDecoder {
  const state = new ResponseDecoder(request);
  return createSseChatDecoder({
    onEvent(message, out) {
      const chunk = asObject(tryParseJson(message.data));
      if (!chunk) throw protocolError('a stream event is not a JSON object');
      out.push(...state.onResponse(chunk));
    },
    onEnd(out) {
      if (!state.complete) throw protocolError('the stream ended before a chunk carried its finishReason');
      if (state.usage) out.push(...state.withStart([{ type: 'usage', usage: state.usage }]));
    },
  });
}
