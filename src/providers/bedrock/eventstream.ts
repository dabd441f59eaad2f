/**
 * Incremental reader of `application/vnd.amazon.eventstream` bodies (AWS Bedrock API reference: application/vnd.amazon.eventstream framing). Network reads
 * split and join frames arbitrarily: bytes are buffered until the frame's 4-byte total length has
 * arrived, then smithy's EventStreamCodec decodes it and checks both CRCs. Only the buffering is
 * Switchyard's; the framing, header parsing and CRCs are the codec's.
 */

import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';

export interface EventFrame {
  /** String-valued headers (`:message-type`, `:event-type`, `:exception-type`, ...). */
  headers: Record<string, string>;
  payload: Uint8Array;
}

/** Prelude (12) + message CRC (4). */
const MIN_FRAME = 16;
/** Payload ≤ 24 MiB and headers ≤ 128 KiB, plus the overhead: a larger length is garbage, not a frame. */
const MAX_FRAME = 24 * 1024 * 1024 + 128 * 1024 + MIN_FRAME;

export class FrameError extends Error {
  override name = 'FrameError';
}

export class EventStreamReader {
  readonly #codec = new EventStreamCodec(toUtf8, fromUtf8);
  #pending: Uint8Array = new Uint8Array(0);

  /** Bytes received that do not yet make a whole frame. */
  get buffered(): number {
    return this.#pending.byteLength;
  }

  /**
   * The whole frames completed by this chunk, one at a time: a caller handles each frame before the
   * next is decoded, so the frames before a corrupted one are never lost. Throws FrameError at a
   * bad length or CRC.
   */
  *push(chunk: Uint8Array): Generator<EventFrame> {
    this.#pending = this.#pending.byteLength === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    while (this.#pending.byteLength >= 4) {
      const view = new DataView(this.#pending.buffer, this.#pending.byteOffset, this.#pending.byteLength);
      const length = view.getUint32(0, false);
      if (length < MIN_FRAME || length > MAX_FRAME)
        throw new FrameError(`an event frame claims ${length} bytes`);
      if (this.#pending.byteLength < length) break;
      const frame = this.#decode(this.#pending.subarray(0, length));
      this.#pending = this.#pending.subarray(length);
      yield frame;
    }
  }

  #decode(bytes: Uint8Array): EventFrame {
    let message: ReturnType<EventStreamCodec['decode']>;
    try {
      message = this.#codec.decode(bytes);
    } catch (err) {
      throw new FrameError(`a corrupted event frame (${err instanceof Error ? err.message : 'undecodable'})`);
    }
    const headers: Record<string, string> = {};
    for (const [name, header] of Object.entries(message.headers)) {
      if (header.type === 'string') headers[name] = header.value;
    }
    return { headers, payload: message.body };
  }
}
