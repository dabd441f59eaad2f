/**
 * ConverseStream (AWS Bedrock API reference: ConverseStream events) → ChatEvents, incrementally. Events: messageStart, contentBlockStart
 * (tool blocks only), contentBlockDelta (text or toolUse.input fragments), contentBlockStop,
 * messageStop (stopReason), metadata (usage, after messageStop). `:message-type: exception` frames
 * become UpstreamErrors of the matching kind. The stream is complete only once messageStop and
 * metadata have both arrived; `end()` throws otherwise. `start` is held until the first output.
 */

import type { ChatEvent, ChatRequest } from '../../core/chat.ts';
import { asNumber, asObject, asString, type JsonObject, tryParseJson } from '../../core/json.ts';
import { type ChatStreamDecoder, UpstreamError } from '../types.ts';
import { decodeUsage, mapStopReason, protocolError, type ToolPolicy, toolPolicy } from './decode.ts';
import { bedrockFailure } from './errors.ts';
import { type EventFrame, EventStreamReader, FrameError } from './eventstream.ts';

/** What a Bedrock content block (keyed by contentBlockIndex) turned into. */
type Block =
  /** A tool call with its OpenAI index (which counts tool calls only) and whether input arrived. */
  | { kind: 'tool'; index: number; gotInput: boolean }
  /** The synthetic JSON tool: its input is the answer text. */
  | { kind: 'json'; gotInput: boolean }
  /** A call dropped by parallel_tool_calls: false. */
  | { kind: 'dropped' };

const UTF8 = new TextDecoder();

export function createConverseStreamDecoder(request: ChatRequest): ChatStreamDecoder {
  return new ConverseStreamDecoder(toolPolicy(request));
}

class ConverseStreamDecoder implements ChatStreamDecoder {
  readonly #policy: ToolPolicy;
  readonly #reader = new EventStreamReader();
  readonly #blocks = new Map<number, Block>();
  #out: ChatEvent[] = [];
  #toolCalls = 0;
  #started = false;
  #stopped = false;
  #metadata = false;
  #failure: UpstreamError | undefined;

  constructor(policy: ToolPolicy) {
    this.#policy = policy;
  }

  push(chunk: Uint8Array): ChatEvent[] {
    if (!this.#failure) {
      try {
        for (const frame of this.#reader.push(chunk)) {
          this.#onFrame(frame);
          if (this.#failure) break;
        }
      } catch (err) {
        this.#failure = asUpstreamError(err);
      }
    }
    return this.#drain();
  }

  end(): ChatEvent[] {
    if (this.#failure) throw this.#failure;
    if (this.#reader.buffered > 0) throw protocolError('the event stream ended inside a frame');
    if (!this.#stopped) throw protocolError('the event stream ended before messageStop');
    if (!this.#metadata)
      throw protocolError('the event stream ended after messageStop, before its metadata (usage)');
    return this.#drain();
  }

  /** Events decoded before a failure in the same read go out first; the failure is thrown next call. */
  #drain(): ChatEvent[] {
    if (this.#out.length === 0 && this.#failure) throw this.#failure;
    const events = this.#out;
    this.#out = [];
    return events;
  }

  #onFrame(frame: EventFrame): void {
    const type = frame.headers[':message-type'];
    if (type === 'exception') {
      const payload = asObject(tryParseJson(UTF8.decode(frame.payload)));
      const name = frame.headers[':exception-type'];
      const message = asString(payload?.message) ?? asString(payload?.Message) ?? 'no message';
      this.#failure = new UpstreamError(bedrockFailure(name, 0, message));
      return;
    }
    if (type === 'error') {
      const code = frame.headers[':error-code'] ?? 'error';
      this.#failure = new UpstreamError(
        bedrockFailure(code, 0, frame.headers[':error-message'] ?? 'no message'),
      );
      return;
    }
    if (type !== 'event') return;
    const payload = asObject(tryParseJson(UTF8.decode(frame.payload)));
    if (!payload)
      throw protocolError(`a ${frame.headers[':event-type'] ?? 'stream'} event is not a JSON object`);
    switch (frame.headers[':event-type']) {
      case 'messageStart':
        // Nothing to show yet: `start` waits for the first output (see #emit).
        break;
      case 'contentBlockStart':
        this.#onBlockStart(payload);
        break;
      case 'contentBlockDelta':
        this.#onBlockDelta(payload);
        break;
      case 'contentBlockStop':
        this.#onBlockStop(payload);
        break;
      case 'messageStop':
        this.#stopped = true;
        this.#emit({
          type: 'finish',
          choice: 0,
          reason: mapStopReason(asString(payload.stopReason), this.#toolCalls),
        });
        break;
      case 'metadata': {
        this.#metadata = true;
        const usage = decodeUsage(payload.usage);
        if (usage) this.#emit({ type: 'usage', usage });
        break;
      }
      // Newer event types carry nothing Chat Completions can show.
    }
  }

  /**
   * Queues an output event, preceded by `start` the first time. Bedrock sends `messageStart` before
   * the model has produced anything, and a throttling or unavailable exception right after it is
   * common; the gateway commits the response to its client at the first event, so holding `start`
   * until real output keeps such a failure invisible (another deployment serves instead).
   */
  #emit(event: ChatEvent): void {
    if (!this.#started) {
      this.#started = true;
      this.#out.push({ type: 'start' });
    }
    this.#out.push(event);
  }

  #onBlockStart(payload: JsonObject): void {
    const at = blockIndex(payload);
    const toolUse = asObject(asObject(payload.start)?.toolUse);
    if (!toolUse) return;
    const name = asString(toolUse.name) ?? '';
    if (name === this.#policy.jsonTool) {
      this.#blocks.set(at, { kind: 'json', gotInput: false });
    } else if (this.#policy.firstCallOnly && this.#toolCalls > 0) {
      this.#blocks.set(at, { kind: 'dropped' });
    } else {
      const index = this.#toolCalls++;
      this.#blocks.set(at, { kind: 'tool', index, gotInput: false });
      const id = asString(toolUse.toolUseId) ?? `tooluse_${index}`;
      this.#emit({ type: 'tool_call_start', choice: 0, index, id, name });
    }
  }

  #onBlockDelta(payload: JsonObject): void {
    const delta = asObject(payload.delta);
    const text = asString(delta?.text);
    if (text) {
      this.#emit({ type: 'text', choice: 0, text });
      return;
    }
    const toolUse = asObject(delta?.toolUse);
    if (!toolUse) return; // reasoningContent and newer deltas have no Chat Completions field
    const input = asString(toolUse.input) ?? '';
    const block = this.#blocks.get(blockIndex(payload));
    if (!block) throw protocolError('a toolUse delta arrived for a block that never started');
    if (input === '') return;
    if (block.kind === 'json') {
      block.gotInput = true;
      this.#emit({ type: 'text', choice: 0, text: input });
    } else if (block.kind === 'tool') {
      block.gotInput = true;
      this.#emit({ type: 'tool_call_delta', choice: 0, index: block.index, arguments: input });
    }
  }

  #onBlockStop(payload: JsonObject): void {
    const block = this.#blocks.get(blockIndex(payload));
    // A call without arguments may send no input delta at all: its arguments are `{}`.
    if (!block || block.kind === 'dropped' || block.gotInput) return;
    if (block.kind === 'json') this.#emit({ type: 'text', choice: 0, text: '{}' });
    else this.#emit({ type: 'tool_call_delta', choice: 0, index: block.index, arguments: '{}' });
  }
}

function blockIndex(payload: JsonObject): number {
  const index = asNumber(payload.contentBlockIndex);
  if (index === undefined) throw protocolError('a content-block event has no contentBlockIndex');
  return index;
}

function asUpstreamError(err: unknown): UpstreamError {
  if (err instanceof UpstreamError) return err;
  if (err instanceof FrameError) return protocolError(err.message);
  throw err;
}
