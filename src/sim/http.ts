/**
 * Small HTTP helpers shared by every simulated cloud: body reading, JSON replies, an SSE writer
 * that honours backpressure and pacing, and the socket-level faults (reset, cut).
 */

import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';

export type Headers = Record<string, string>;

/** Resolves with the body, or `undefined` once it exceeds `limit` bytes (the caller answers 413). */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () =>
      resolve(tooLarge ? undefined : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)),
    );
    req.on('error', reject);
  });
}

/** Sleeps unless the sim is closing; resolves `false` when aborted so callers can stop quietly. */
export async function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (ms <= 0) return !signal.aborted;
  try {
    await delay(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

/** Resolves when the response can take more data, or when its connection is gone. */
export function drained(res: ServerResponse): Promise<void> {
  // A connection already gone will emit neither event again.
  if (res.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** Ends the connection after what was written so far is flushed: the client sees a truncated body. */
export function cutConnection(res: ServerResponse): void {
  const socket = res.socket;
  if (!socket) return;
  socket.end();
  socket.once('finish', () => socket.destroy());
}

/** Tears the connection down with a TCP reset and no response at all. */
export function resetConnection(req: IncomingMessage): void {
  const socket = req.socket;
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
  else socket.destroy();
}

/**
 * Sends a JSON body. With `cut`, only the first half of the body goes out (under the full
 * content-length) before the connection ends, like a proxy dying mid-response.
 */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Headers = {},
  cut = false,
): void {
  const payload = Buffer.from(JSON.stringify(body));
  const head: OutgoingHttpHeaders = {
    ...headers,
    'content-type': 'application/json',
    'content-length': payload.length,
  };
  res.writeHead(status, head);
  if (!cut) {
    res.end(payload);
    return;
  }
  res.write(payload.subarray(0, Math.floor(payload.length / 2)));
  cutConnection(res);
}

/**
 * A redirect as a front end sends it (an http→https upgrade, a moved host): `location`, a short
 * HTML page. Without a location, the same URL over https on the same host, query included, so a
 * test can check that a client never repeats the query (it may hold a key).
 */
export function sendRedirect(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  location: string | undefined,
): void {
  const target = location ?? `https://${req.headers.host ?? '127.0.0.1'}${req.url ?? '/'}`;
  const page = Buffer.from(
    `<html><head><title>${status} Moved</title></head><body><h1>Moved</h1></body></html>\n`,
  );
  res.writeHead(status, {
    location: target,
    'content-type': 'text/html; charset=utf-8',
    'content-length': page.length,
  });
  res.end(page);
}

export interface SseOptions {
  /** Send this many events, then cut the connection (the `cut` fault). */
  cutAfter?: number;
  /** Paced events go out at this rate; 0 or undefined means as fast as possible. */
  tokensPerSecond?: number;
  signal: AbortSignal;
}

/** Unpaced events are batched up to this much per write (about a socket buffer). */
const BATCH_SIZE = 16 * 1024;

/**
 * What every simulated stream does whatever its framing (SSE text, Bedrock's binary frames):
 * backpressure, pacing, batching and the `cut` fault. Unpaced pieces are batched into one write
 * per ~16 KiB instead of one per event: the benchmark streams thousands of responses a second
 * through this. (Not `res.cork()`: with chunked encoding Node buffers corked writes itself, and
 * the 'drain' after a full buffer can then never come.)
 */
export class PacedStream {
  #res: ServerResponse;
  #options: SseOptions;
  #sent = 0;
  #paced = 0;
  #start = 0;
  #open = true;
  #batch: (string | Uint8Array)[] = [];
  #batchSize = 0;

  constructor(res: ServerResponse, options: SseOptions) {
    this.#res = res;
    this.#options = options;
    // A paced or cut stream shows its headers at once; an unpaced one sends them with the first batch.
    if ((options.tokensPerSecond ?? 0) > 0 || options.cutAfter !== undefined) res.flushHeaders();
  }

  /** False once the stream was cut, the client went away or the sim is closing. */
  get open(): boolean {
    return this.#open && !this.#res.destroyed && !this.#options.signal.aborted;
  }

  /** Pieces sent so far. */
  get sent(): number {
    return this.#sent;
  }

  #take(): string | Buffer {
    const batch = this.#batch;
    this.#batch = [];
    this.#batchSize = 0;
    if (batch.every((piece) => typeof piece === 'string')) return batch.join('');
    return Buffer.concat(batch.map((piece) => (typeof piece === 'string' ? Buffer.from(piece) : piece)));
  }

  /** Writes the batch; waits for 'drain' when the socket buffer is full. */
  async #flush(): Promise<void> {
    if (this.#batchSize === 0) return;
    if (!this.#res.write(this.#take())) await drained(this.#res);
  }

  /**
   * Queues one framed event. Paced events wait for their slot on a fixed schedule from the first
   * paced event, so pacing does not drift with write time.
   */
  async push(piece: string | Uint8Array, paced: boolean): Promise<boolean> {
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
    this.#batch.push(piece);
    this.#batchSize += piece.length;
    if (rate > 0 || this.#batchSize >= BATCH_SIZE) await this.#flush();
    return this.open;
  }

  /** Writes what is batched and ends the response. */
  end(): void {
    if (!this.open) return;
    this.#res.end(this.#take());
  }
}

/**
 * A cloud's own in-band error, sent after `afterEvents` events instead of the rest of the stream
 * (the `stream_error` fault, Anthropic's `[sim:stream_error=...]` directive). A stream shorter than
 * that sends it in place of its end marker: the error always arrives, and the connection then ends.
 */
export interface InBandError {
  afterEvents: number;
  /** The already-serialised payload (SSE) or the whole frame (Bedrock's event stream). */
  piece: string | Uint8Array;
}

/**
 * Counts the events a stream sends and swaps in its in-band error when due. Shared by the SSE
 * writer and Bedrock's event-stream writer.
 */
export class InBandErrorGate {
  #error: InBandError | undefined;
  #events = 0;

  constructor(error: InBandError | undefined) {
    this.#error = error;
  }

  /** True when the next event is to be the error instead. */
  get due(): boolean {
    return this.#error !== undefined && this.#events >= this.#error.afterEvents;
  }

  get pending(): boolean {
    return this.#error !== undefined;
  }

  counted(): void {
    this.#events++;
  }

  /** Sends the error and ends the response; resolves false (the stream is over). */
  async fail(stream: PacedStream): Promise<false> {
    const error = this.#error;
    this.#error = undefined;
    if (error && (await stream.push(error.piece, false))) stream.end();
    return false;
  }
}

/** One SSE event's text: an `event:` line when the protocol names events (Anthropic), then `data:`. */
export function sseEvent(data: string, event?: string): string {
  return event === undefined ? `data: ${data}\n\n` : `event: ${event}\ndata: ${data}\n\n`;
}

/** Writes `data: ...` events (with an `event:` line when the protocol names them) on a PacedStream. */
export class SseWriter {
  #stream: PacedStream;
  #gate: InBandErrorGate;

  constructor(
    res: ServerResponse,
    status: number,
    headers: Headers,
    options: SseOptions,
    inBandError?: InBandError,
  ) {
    res.writeHead(status, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
    });
    this.#stream = new PacedStream(res, options);
    this.#gate = new InBandErrorGate(inBandError);
  }

  get open(): boolean {
    return this.#stream.open;
  }

  /**
   * Queues one event (`data` is the already-serialised payload). `event` adds an `event:` line
   * before the data (Anthropic names every event; OpenAI does not).
   */
  send(data: string, paced = false, event?: string): Promise<boolean> {
    if (this.#gate.due) return this.#gate.fail(this.#stream);
    this.#gate.counted();
    return this.#stream.push(sseEvent(data, event), paced);
  }

  /** Sends `[DONE]` (when the protocol has one) and ends the response. */
  async finish(done: string | undefined): Promise<void> {
    if (this.#gate.pending) {
      await this.#gate.fail(this.#stream);
      return;
    }
    if (done !== undefined && !(await this.send(done))) return;
    this.#stream.end();
  }
}
