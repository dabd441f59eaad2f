/**
 * Converse response (AWS Bedrock API reference: Converse response) → ChatEvents. Shared with the stream decoder: stop reasons and
 * usage (sections 7.1 and 7.3), and undoing the encoder's emulations (the JSON tool's input becomes
 * the text answer; `parallel_tool_calls: false` keeps only the first call).
 */

import type { ChatEvent, ChatRequest, FinishReason, Usage } from '../../core/chat.ts';
import { asArray, asNumber, asObject, asString } from '../../core/json.ts';
import { modelOutputError } from '../shared/model-output.ts';
import { UpstreamError } from '../types.ts';
import { jsonToolName } from './encode.ts';

/** stopReasons that say the model produced output Bedrock could not use (docs/translation.md). */
const MODEL_OUTPUT_FAILURES: Readonly<Record<string, string>> = {
  malformed_model_output: 'produced output Bedrock could not parse',
  malformed_tool_use: 'produced a malformed tool call',
};

/**
 * Bedrock stopReason → OpenAI finish_reason. `tool_use` after only the JSON tool is a plain answer
 * (`stop`); `malformed_*` fits no OpenAI reason and fails the attempt with a `model_output`
 * failure: another deployment may do better, and this one is not unhealthy for it.
 */
export function mapStopReason(reason: string | undefined, toolCalls: number): FinishReason {
  const failure = reason === undefined ? undefined : MODEL_OUTPUT_FAILURES[reason];
  if (failure !== undefined) throw modelOutputError(failure, `Bedrock stopReason ${reason}`);
  switch (reason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'guardrail_intervened':
    case 'content_filtered':
      return 'content_filter';
    default:
      // end_turn, stop_sequence, tool_use and anything newer: tool calls decide.
      return toolCalls > 0 ? 'tool_calls' : 'stop';
  }
}

/** TokenUsage → Usage: Bedrock's inputTokens exclude cache reads and writes; OpenAI's prompt includes them. */
export function decodeUsage(value: unknown): Usage | undefined {
  const u = asObject(value);
  if (!u) return undefined;
  const cacheRead = asNumber(u.cacheReadInputTokens) ?? 0;
  const cacheWrite = asNumber(u.cacheWriteInputTokens) ?? 0;
  const promptTokens = (asNumber(u.inputTokens) ?? 0) + cacheRead + cacheWrite;
  const completionTokens = asNumber(u.outputTokens) ?? 0;
  // Whether totalTokens counts cache tokens is unclear (docs/translation.md): computed, it always adds up.
  const usage: Usage = { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens };
  if (cacheRead > 0) usage.cachedTokens = cacheRead;
  if (cacheWrite > 0) usage.cacheWriteTokens = cacheWrite;
  return usage;
}

/** What the decoders need to know about the request to undo the encoder's emulations. */
export interface ToolPolicy {
  /** The synthetic JSON tool's name, when response_format asked for JSON. */
  jsonTool: string | undefined;
  /** parallel_tool_calls: false → only the first call is kept. */
  firstCallOnly: boolean;
}

export function toolPolicy(request: ChatRequest): ToolPolicy {
  return { jsonTool: jsonToolName(request), firstCallOnly: request.parallelToolCalls === false };
}

export function protocolError(message: string): UpstreamError {
  return new UpstreamError({ kind: 'protocol', retryable: true, message });
}

/** A whole Converse response → events (pure). */
export function decodeConverseResponse(value: unknown, request: ChatRequest): ChatEvent[] {
  const body = asObject(value);
  const message = asObject(asObject(body?.output)?.message);
  if (!body || !message || !Array.isArray(message.content)) {
    throw protocolError('the Converse response has no output.message.content');
  }
  const policy = toolPolicy(request);
  const events: ChatEvent[] = [{ type: 'start' }];
  let toolCalls = 0;
  for (const raw of asArray(message.content)) {
    const block = asObject(raw);
    const text = asString(block?.text);
    if (text) events.push({ type: 'text', choice: 0, text });
    const toolUse = asObject(block?.toolUse);
    if (!toolUse) continue; // reasoningContent and other blocks have no Chat Completions field
    const name = asString(toolUse.name) ?? '';
    const args = JSON.stringify(toolUse.input ?? {});
    if (name === policy.jsonTool) {
      events.push({ type: 'text', choice: 0, text: args });
      continue;
    }
    if (policy.firstCallOnly && toolCalls > 0) continue;
    const index = toolCalls++;
    events.push({
      type: 'tool_call_start',
      choice: 0,
      index,
      id: asString(toolUse.toolUseId) ?? `tooluse_${index}`,
      name,
    });
    events.push({ type: 'tool_call_delta', choice: 0, index, arguments: args });
  }
  events.push({ type: 'finish', choice: 0, reason: mapStopReason(asString(body.stopReason), toolCalls) });
  const usage = decodeUsage(body.usage);
  if (usage) events.push({ type: 'usage', usage });
  return events;
}
