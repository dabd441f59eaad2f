/**
 * The simulated Bedrock's `application/vnd.amazon.eventstream` writer (AWS Bedrock API reference: application/vnd.amazon.eventstream framing): each event is
 * one binary frame encoded by smithy's EventStreamCodec (prelude, headers, JSON payload with the
 * `"p"` padding field, both CRCs). Like the SSE writer: backpressure, pacing of token events,
 * batching of unpaced frames, and the `cut` fault (that many frames, then the connection ends).
 */

import type { ServerResponse } from 'node:http';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { type Headers, type InBandError, InBandErrorGate, PacedStream, type SseOptions } from './http.ts';

const codec = new EventStreamCodec(toUtf8, fromUtf8);
const PADDING = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

const stringHeader = (value: string) => ({ type: 'string' as const, value });

/** One event frame: `:event-type`, `:content-type`, `:message-type: event`, JSON payload. */
export function eventFrame(eventType: string, payload: Record<string, unknown>): Uint8Array {
  return codec.encode({
    headers: {
      ':event-type': stringHeader(eventType),
      ':content-type': stringHeader('application/json'),
      ':message-type': stringHeader('event'),
    },
    body: fromUtf8(JSON.stringify(payload)),
  });
}

/** A modelled exception frame (`throttlingException`, `modelStreamErrorException`, ...). */
export function exceptionFrame(exceptionType: string, payload: Record<string, unknown>): Uint8Array {
  return codec.encode({
    headers: {
      ':exception-type': stringHeader(exceptionType),
      ':content-type': stringHeader('application/json'),
      ':message-type': stringHeader('exception'),
    },
    body: fromUtf8(JSON.stringify(payload)),
  });
}

export type EventStreamOptions = SseOptions;

/** Bedrock's binary event frames on a PacedStream (backpressure, pacing, batching, cut). */
export class EventStreamWriter {
  #stream: PacedStream;
  #gate: InBandErrorGate;

  /** `inBandError`: an exception frame sent after that many events instead of the rest. */
  constructor(res: ServerResponse, headers: Headers, options: EventStreamOptions, inBandError?: InBandError) {
    res.writeHead(200, { ...headers, 'content-type': 'application/vnd.amazon.eventstream' });
    this.#stream = new PacedStream(res, options);
    this.#gate = new InBandErrorGate(inBandError);
  }

  get open(): boolean {
    return this.#stream.open;
  }

  /** Sends one event with a `"p"` padding of varying length, as the real service does. */
  event(eventType: string, payload: Record<string, unknown>, paced = false): Promise<boolean> {
    if (this.#gate.due) return this.#gate.fail(this.#stream);
    this.#gate.counted();
    const p = PADDING.slice(0, 1 + ((this.#stream.sent * 7) % PADDING.length));
    return this.#stream.push(eventFrame(eventType, { ...payload, p }), paced);
  }

  async finish(): Promise<void> {
    if (this.#gate.pending) {
      await this.#gate.fail(this.#stream);
      return;
    }
    this.#stream.end();
  }
}
