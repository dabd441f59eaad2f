/**
 * `POST .../chat/completions` in the OpenAI dialect: validates, asks the engine, and renders the
 * script as one JSON completion or as the SSE chunk sequence of OpenAI API reference: Streaming chunks (role chunk with
 * empty content, content chunks, a separate finish chunk, the `choices: []` usage chunk only with
 * `include_usage`, then `[DONE]`).
 */

import { runEngine, type SimChoice, type SimScript } from './engine.ts';
import { type SimFault, statusOfStreamError } from './faults.ts';
import { type Headers, type InBandError, SseWriter, sendJson } from './http.ts';
import type { ChoicePhase, NativeError, OpenAIFlavour } from './openai-flavour.ts';
import { responseId } from './openai-flavour.ts';
import { isApiError, parseChatBody } from './openai-request.ts';
import type { Exchange, SimRuntime } from './server.ts';

export interface ChatContext {
  flavour: OpenAIFlavour;
  label: string;
  /** Model id or deployment name that serves the request. */
  model: string;
  /** Headers every answer carries (request id, rate-limit headers, ...). */
  headers: Headers;
  /** A `cut` or `stream_error` fault to apply, if one was taken for this request. */
  fault?: SimFault;
}

/**
 * The flavour's native error for a `stream_error` fault: what goes in band as `data: {"error":…}`
 * (openai-node raises any data payload with an `error` key as an APIError), or, for a request that
 * does not stream, the whole answer.
 */
export function streamErrorAnswer(
  ctx: ChatContext,
  operation: 'chat' | 'embeddings',
): NativeError | undefined {
  if (ctx.fault?.kind !== 'stream_error') return undefined;
  return ctx.flavour.statusFault(statusOfStreamError(ctx.fault), ctx.model, operation);
}

/** Sends a whole native error answer with the request's headers. */
export function sendNative(ex: Exchange, ctx: ChatContext, error: NativeError): void {
  sendJson(ex.res, error.status, error.body, { ...ctx.headers, ...error.headers });
}

function usage(script: SimScript, flavour: OpenAIFlavour): Record<string, unknown> {
  const { promptTokens, completionTokens } = script.usage;
  const totals = {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
  if (!flavour.usageDetails) return totals;
  return {
    ...totals,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

function toolCallsJson(choice: SimChoice) {
  return choice.toolCalls.map((c) => ({
    id: c.id,
    type: 'function',
    function: { name: c.name, arguments: c.argumentsJson },
  }));
}

function decorate(flavour: OpenAIFlavour, choice: Record<string, unknown>, phase: ChoicePhase) {
  flavour.decorateChoice?.(choice, phase);
  return choice;
}

/** Fields every completion/chunk starts with, in the order OpenAI sends them. */
function head(id: string, object: string, created: number, ctx: ChatContext): Record<string, unknown> {
  const out: Record<string, unknown> = { id, object, created, model: ctx.model };
  if (ctx.flavour.serviceTier !== undefined) out.service_tier = ctx.flavour.serviceTier;
  if (ctx.flavour.systemFingerprint !== undefined) out.system_fingerprint = ctx.flavour.systemFingerprint;
  return out;
}

function completionJson(script: SimScript, ctx: ChatContext): Record<string, unknown> {
  const { flavour } = ctx;
  const body = head(responseId('chatcmpl-'), 'chat.completion', Math.floor(Date.now() / 1000), ctx);
  body.choices = script.choices.map((choice, index) => {
    const message: Record<string, unknown> = {
      role: 'assistant',
      content: choice.toolCalls.length > 0 && choice.tokens.length === 0 ? null : choice.tokens.join(''),
      refusal: null,
      annotations: [],
    };
    if (choice.toolCalls.length > 0) message.tool_calls = toolCallsJson(choice);
    return decorate(
      flavour,
      { index, message, logprobs: null, finish_reason: choice.finishReason },
      'message',
    );
  });
  body.usage = usage(script, flavour);
  flavour.decorateCompletion?.(body);
  return body;
}

interface Step {
  choice: Record<string, unknown>;
  /** Token-bearing steps are paced by tokensPerSecond; role and finish steps are not. */
  paced: boolean;
}

/** The per-choice delta sequence of OpenAI API reference: Streaming chunks, including the tool-call delta pattern. */
function choiceSteps(choice: SimChoice, index: number, flavour: OpenAIFlavour): Step[] {
  const step = (delta: Record<string, unknown>, phase: ChoicePhase, finish: string | null = null): Step => ({
    choice: decorate(flavour, { index, delta, logprobs: null, finish_reason: finish }, phase),
    paced: phase === 'content' || phase === 'tool',
  });
  const header = (k: number) => {
    const call = choice.toolCalls[k]!;
    return { index: k, id: call.id, type: 'function', function: { name: call.name, arguments: '' } };
  };
  const steps: Step[] = [];
  const toolFirst = choice.tokens.length === 0 && choice.toolCalls.length > 0;
  steps.push(
    toolFirst
      ? step({ role: 'assistant', content: null, tool_calls: [header(0)], refusal: null }, 'role')
      : step({ role: 'assistant', content: '', refusal: null }, 'role'),
  );
  for (const token of choice.tokens) steps.push(step({ content: token }, 'content'));
  for (const [k, call] of choice.toolCalls.entries()) {
    if (k > 0 || !toolFirst) steps.push(step({ tool_calls: [header(k)] }, 'tool'));
    for (const piece of call.fragments) {
      steps.push(step({ tool_calls: [{ index: k, function: { arguments: piece } }] }, 'tool'));
    }
  }
  steps.push(step({}, 'finish', choice.finishReason));
  return steps;
}

/** Choices advance in lockstep (one step each, round robin) so n>1 streams interleave. */
function interleave(script: SimScript, flavour: OpenAIFlavour): Step[] {
  const lists = script.choices.map((c, i) => choiceSteps(c, i, flavour));
  const out: Step[] = [];
  const longest = Math.max(...lists.map((l) => l.length));
  for (let k = 0; k < longest; k++) {
    for (const list of lists) if (list[k]) out.push(list[k]!);
  }
  return out;
}

const PAD = 'qZ3xK9mVb2LwR7tYp4NcH8sJd6FgA1eU';

async function streamCompletion(
  ex: Exchange,
  sim: SimRuntime,
  ctx: ChatContext,
  script: SimScript,
  options: { includeUsage: boolean; includeObfuscation: boolean },
): Promise<void> {
  const { flavour } = ctx;
  const base = head(responseId('chatcmpl-'), 'chat.completion.chunk', Math.floor(Date.now() / 1000), ctx);
  const obfuscate = flavour.obfuscation && options.includeObfuscation;
  let count = 0;
  // Clients must ignore `obfuscation`; a varying length is enough to keep them honest.
  const pad = (chunk: Record<string, unknown>) => {
    if (obfuscate) chunk.obfuscation = PAD.slice(0, 2 + ((count++ * 5) % 13));
    return JSON.stringify(chunk);
  };
  const inBand = streamErrorAnswer(ctx, 'chat');
  // No opening event in this dialect: afterChunks counts from the first chunk (Azure's prelude too).
  const inBandError: InBandError | undefined =
    inBand && ctx.fault?.kind === 'stream_error'
      ? { afterEvents: ctx.fault.afterChunks, piece: `data: ${JSON.stringify(inBand.body)}\n\n` }
      : undefined;
  const writer = new SseWriter(
    ex.res,
    200,
    ctx.headers,
    {
      ...(ctx.fault?.kind === 'cut' ? { cutAfter: ctx.fault.afterChunks } : {}),
      tokensPerSecond: sim.knobs.tokensPerSecond,
      signal: sim.signal,
    },
    inBandError,
  );
  for (const chunk of flavour.streamPrelude?.() ?? []) {
    if (!(await writer.send(JSON.stringify(chunk)))) return;
  }
  for (const step of interleave(script, flavour)) {
    const chunk: Record<string, unknown> = { ...base, choices: [step.choice] };
    if (options.includeUsage) chunk.usage = null;
    if (!(await writer.send(pad(chunk), step.paced))) return;
  }
  if (options.includeUsage) {
    if (!(await writer.send(pad({ ...base, choices: [], usage: usage(script, flavour) })))) return;
  }
  await writer.finish('[DONE]');
}

/** Handles a chat completion once routing, auth and faults are settled. */
export async function chatCompletion(ex: Exchange, sim: SimRuntime, ctx: ChatContext): Promise<void> {
  const { flavour } = ctx;
  const parsed = parseChatBody(ex.body, {
    strict: flavour.strict,
    ...(flavour.extraFields ? { extraFields: flavour.extraFields } : {}),
  });
  if (isApiError(parsed)) return sendJson(ex.res, parsed.status, flavour.errorBody(parsed), ctx.headers);
  const script = runEngine({ ...parsed.request, model: ctx.model, label: ctx.label });
  sim.chargeTokens(script.usage.promptTokens, script.usage.completionTokens);
  const blocked = script.contentFilter === 'prompt' ? flavour.promptFiltered?.() : undefined;
  if (blocked) return sendJson(ex.res, blocked.status, blocked.body, { ...ctx.headers, ...blocked.headers });
  if (parsed.stream) return streamCompletion(ex, sim, ctx, script, parsed);
  const failed = streamErrorAnswer(ctx, 'chat');
  if (failed) return sendNative(ex, ctx, failed);
  sendJson(ex.res, 200, completionJson(script, ctx), ctx.headers, ctx.fault?.kind === 'cut');
}
