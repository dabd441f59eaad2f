import type { ChatEvent, ChatRequest, FinishReason, Usage } from '../../core/chat.ts';
import { asArray, asNumber, asObject, asString, type JsonObject, tryParseJson } from '../../core/json.ts';
import { createSseChatDecoder, protocolError } from '../shared/sse-decoder.ts';
import { type ChatStreamDecoder, UpstreamError } from '../types.ts';
import { failureFromAnthropicError } from './errors.ts';
import { jsonToolNameFor } from './json-output.ts';

/** docs/translation.md: Anthropic `stop_reason` → OpenAI `finish_reason`. */
export function mapStopReason(reason: unknown): FinishReason {
  switch (reason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      // end_turn, stop_sequence, pause_turn, and reasons newer than this code.
      return 'stop';
  }
}

/** Usage counters as Anthropic reports them; `input_tokens` excludes both cache counts. */
interface AnthropicUsage {
  input: number;
  cacheRead: number;
  cacheWrite: number;
  output: number;
}

function readUsage(value: unknown, into: AnthropicUsage): void {
  const u = asObject(value);
  if (!u) return;
  into.input = asNumber(u.input_tokens) ?? into.input;
  into.cacheRead = asNumber(u.cache_read_input_tokens) ?? into.cacheRead;
  into.cacheWrite = asNumber(u.cache_creation_input_tokens) ?? into.cacheWrite;
  into.output = asNumber(u.output_tokens) ?? into.output;
}

/** docs/translation.md: the OpenAI prompt count includes cached tokens, Anthropic's input count does not. */
export function toUsage(u: AnthropicUsage): Usage {
  const promptTokens = u.input + u.cacheRead + u.cacheWrite;
  const usage: Usage = { promptTokens, completionTokens: u.output, totalTokens: promptTokens + u.output };
  if (u.cacheRead) usage.cachedTokens = u.cacheRead;
  if (u.cacheWrite) usage.cacheWriteTokens = u.cacheWrite;
  return usage;
}

export function decodeUsage(value: unknown): Usage {
  const counters: AnthropicUsage = { input: 0, cacheRead: 0, cacheWrite: 0, output: 0 };
  readUsage(value, counters);
  return toUsage(counters);
}

function startEvent(message: JsonObject): ChatEvent {
  const event: ChatEvent = { type: 'start' };
  const id = asString(message.id);
  if (id) event.id = id;
  const model = asString(message.model);
  if (model) event.model = model;
  return event;
}

/** The finish of a message whose only tool call was the synthetic JSON tool is a plain stop. */
function finishReason(stopReason: unknown, calledClientTools: boolean, answeredJson: boolean): FinishReason {
  const reason = mapStopReason(stopReason);
  return reason === 'tool_calls' && answeredJson && !calledClientTools ? 'stop' : reason;
}

/** A complete (non-streaming) Messages API body → events (pure). */
export function decodeMessage(value: unknown, request: ChatRequest): ChatEvent[] {
  const body = asObject(value);
  if (!body) throw protocolError('the response body is not a JSON object');
  if (body.type === 'error') throw new UpstreamError(failureFromAnthropicError(body, 200));
  const jsonTool = jsonToolNameFor(request);
  const events: ChatEvent[] = [startEvent(body)];
  const blocks = asArray(body.content).map((b) => asObject(b) ?? {});
  const answeredJson = blocks.some(
    (b) => jsonTool !== undefined && b.type === 'tool_use' && b.name === jsonTool,
  );
  let toolIndex = 0;
  for (const block of blocks) {
    if (block.type === 'text') {
      // With the JSON tool answering, a preamble text would corrupt the JSON content.
      const text = asString(block.text);
      if (text && !answeredJson) events.push({ type: 'text', choice: 0, text });
    } else if (block.type === 'tool_use') {
      const input = JSON.stringify(block.input ?? {});
      if (jsonTool !== undefined && block.name === jsonTool) {
        events.push({ type: 'text', choice: 0, text: input });
        continue;
      }
      const index = toolIndex++;
      events.push({
        type: 'tool_call_start',
        choice: 0,
        index,
        id: asString(block.id) ?? `toolu_${index}`,
        name: asString(block.name) ?? '',
      });
      events.push({ type: 'tool_call_delta', choice: 0, index, arguments: input });
    }
    // thinking, redacted_thinking and server-tool blocks have no OpenAI equivalent.
  }
  events.push({
    type: 'finish',
    choice: 0,
    reason: finishReason(body.stop_reason, toolIndex > 0, answeredJson),
  });
  events.push({ type: 'usage', usage: decodeUsage(body.usage) });
  return events;
}

type BlockState =
  | { kind: 'text' }
  | { kind: 'tool'; index: number }
  | { kind: 'json'; sawInput: boolean }
  | { kind: 'ignored' };

/**
 * Incremental decoder for the Messages SSE stream (Anthropic API reference: Streaming SSE). Dispatches on the event name,
 * renumbers tool calls (Anthropic's `index` counts every block, OpenAI's counts tool calls), turns
 * the synthetic JSON tool's input deltas into text, and is complete only after `message_stop`.
 *
 * `start` is held back until the first output (text, a tool call, the finish): Anthropic sends
 * `message_start` before the model has produced anything, and an `overloaded_error` right after it
 * (or after an empty text block, or a thinking block) is common. Until `start`, the gateway can
 * still fail over invisibly.
 */
export function createMessagesStreamDecoder(request: ChatRequest): ChatStreamDecoder {
  const jsonTool = jsonToolNameFor(request);
  /** The shared decoder's output list of the event being handled (see createSseChatDecoder). */
  let out: ChatEvent[] = [];
  let message: JsonObject = {};
  let started = false;
  let stopped = false;
  let stopReason: unknown;
  const usage: AnthropicUsage = { input: 0, cacheRead: 0, cacheWrite: 0, output: 0 };
  const blocks = new Map<number, BlockState>();
  let toolCount = 0;
  let answeredJson = false;

  const start = () => {
    if (started) return;
    started = true;
    out.push(startEvent(message));
  };
  /**
   * Text is passed on as it comes, even while a JSON tool may still answer: forced tool use makes
   * Anthropic skip any preamble, and holding text back would stall every JSON answer's stream.
   */
  const emitText = (text: string) => {
    if (text === '') return;
    start();
    out.push({ type: 'text', choice: 0, text });
  };

  const onBlockStart = (index: number, block: JsonObject) => {
    if (block.type === 'text') {
      blocks.set(index, { kind: 'text' });
      emitText(asString(block.text) ?? '');
    } else if (jsonTool !== undefined && block.type === 'tool_use' && block.name === jsonTool) {
      answeredJson = true;
      blocks.set(index, { kind: 'json', sawInput: false });
    } else if (block.type === 'tool_use') {
      const toolIndex = toolCount++;
      blocks.set(index, { kind: 'tool', index: toolIndex });
      start();
      out.push({
        type: 'tool_call_start',
        choice: 0,
        index: toolIndex,
        id: asString(block.id) ?? `toolu_${toolIndex}`,
        name: asString(block.name) ?? '',
      });
    } else {
      blocks.set(index, { kind: 'ignored' });
    }
  };

  const onBlockDelta = (index: number, delta: JsonObject) => {
    const block = blocks.get(index);
    if (!block) return;
    if (block.kind === 'text' && delta.type === 'text_delta') emitText(asString(delta.text) ?? '');
    if (delta.type !== 'input_json_delta') return;
    const fragment = asString(delta.partial_json) ?? '';
    if (fragment === '') return;
    if (block.kind === 'tool')
      out.push({ type: 'tool_call_delta', choice: 0, index: block.index, arguments: fragment });
    if (block.kind === 'json') {
      block.sawInput = true;
      emitText(fragment);
    }
  };

  const onEvent = (name: string, data: JsonObject) => {
    switch (name) {
      case 'message_start':
        message = asObject(data.message) ?? {};
        readUsage(message.usage, usage);
        break;
      case 'content_block_start':
        onBlockStart(asNumber(data.index) ?? blocks.size, asObject(data.content_block) ?? {});
        break;
      case 'content_block_delta':
        onBlockDelta(asNumber(data.index) ?? -1, asObject(data.delta) ?? {});
        break;
      case 'content_block_stop': {
        const block = blocks.get(asNumber(data.index) ?? -1);
        // A JSON tool with no arguments streams only "": its answer is the empty object.
        if (block?.kind === 'json' && !block.sawInput) {
          block.sawInput = true;
          emitText('{}');
        }
        break;
      }
      case 'message_delta':
        stopReason = asObject(data.delta)?.stop_reason ?? stopReason;
        // output_tokens is cumulative; newer API versions repeat the input counts here too.
        readUsage(data.usage, usage);
        break;
      case 'message_stop':
        start();
        out.push({
          type: 'finish',
          choice: 0,
          reason: finishReason(stopReason, toolCount > 0, answeredJson),
        });
        out.push({ type: 'usage', usage: toUsage(usage) });
        stopped = true;
        break;
      // ping, and event types newer than this code, carry nothing to translate.
    }
  };

  return createSseChatDecoder({
    onEvent(sse, sink) {
      out = sink;
      if (stopped) return;
      const data = asObject(tryParseJson(sse.data));
      if (!data) throw protocolError(`the ${sse.event ?? 'unnamed'} event is not JSON`);
      const name = sse.event ?? asString(data.type) ?? '';
      if (name === 'error' || data.type === 'error')
        throw new UpstreamError(failureFromAnthropicError(data, 200));
      onEvent(name, data);
    },
    onEnd() {
      if (!stopped) {
        throw protocolError(
          stopReason === undefined
            ? 'the stream ended before message_stop'
            : 'the stream was cut after message_delta, before message_stop',
        );
      }
    },
  });
}
