/**
 * The simulated Bedrock's `application/vnd.amazon.eventstream` writer (section 3.5): each event is
 * one binary frame encoded by smithy's EventStreamCodec (prelude, headers, JSON payload with the
 * `"p"` padding field, both CRCs). Like the SSE writer: backpressure, pacing of token events,
 * batching of unpaced frames, and the `cut` fault (that many frames, then the connection ends).
 */

import type { ServerResponse } from 'node:http';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { cutConnection, drained, type Headers, sleep } from './http.ts';

const codec = new EventStreamCodec(toUtf8, fromUtf8);
const PADDING = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
/** Unpaced frames are batched up to this many bytes per write. */
const BATCH_BYTES = 16 * 1024;

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

export interface EventStreamOptions {
  cutAfter?: number;
  tokensPerSecond?: number;
  signal: AbortSignal;
}

export class EventStreamWriter {
  #res: ServerResponse;
  #options: EventStreamOptions;
  #sent = 0;
  #paced = 0;
  #start = 0;
  #open = true;
  #batch: Uint8Array[] = [];
  #batchBytes = 0;

  constructor(res: ServerResponse, headers: Headers, options: EventStreamOptions) {
    this.#res = res;
    this.#options = options;
    res.writeHead(200, { ...headers, 'content-type': 'application/vnd.amazon.eventstream' });
    if ((options.tokensPerSecond ?? 0) > 0 || options.cutAfter !== undefined) res.flushHeaders();
  }

  get open(): boolean {
    return this.#open && !this.#res.destroyed && !this.#options.signal.aborted;
  }

  async #flush(): Promise<void> {
    if (this.#batchBytes === 0) return;
    const chunk = Buffer.concat(this.#batch);
    this.#batch = [];
    this.#batchBytes = 0;
    if (!this.#res.write(chunk)) await drained(this.#res);
  }

  /** Sends one event with a `"p"` padding of varying length, as the real service does. */
  event(eventType: string, payload: Record<string, unknown>, paced = false): Promise<boolean> {
    const p = PADDING.slice(0, 1 + ((this.#sent * 7) % PADDING.length));
    return this.#send(eventFrame(eventType, { ...payload, p }), paced);
  }

  async #send(frame: Uint8Array, paced: boolean): Promise<boolean> {
    if (!this.open) return false;
    if (this.#options.cutAfter !== undefined && this.#sent >= this.#options.cutAfter) {
      await this.#flush();
      this.#open = false;
      cutConnection(this.#res);
      return false;
    }
    const rate = this.#options.tokensPerSecond ?? 0;
    if (paced && rate > 0) {
      await this.#flush();
      if (this.#paced === 0) this.#start = performance.now();
      const due = this.#start + (this.#paced * 1000) / rate;
      this.#paced++;
      if (!(await sleep(due - performance.now(), this.#options.signal)) || !this.open) return false;
    }
    this.#sent++;
    this.#batch.push(frame);
    this.#batchBytes += frame.byteLength;
    if (rate > 0 || this.#batchBytes >= BATCH_BYTES) await this.#flush();
    return this.open;
  }

  async finish(): Promise<void> {
    if (!this.open) return;
    const rest = Buffer.concat(this.#batch);
    this.#batch = [];
    this.#batchBytes = 0;
    this.#res.end(rest);
  }
}
