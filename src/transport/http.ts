import type { IncomingHttpHeaders } from 'node:http';
import { Agent, type Dispatcher, errors } from 'undici';
import { type HttpCall, UpstreamError, type UpstreamFailure } from '../core/upstream.ts';

/**
 * An upstream response body: a byte stream read with `for await` (pulling only when the client has
 * taken the last piece is the backpressure), or all at once with `text()`. Destroying it, or
 * leaving a `for await` early, before the end aborts the upstream request.
 *
 * Not a Node Readable: a Readable and its async iterator (stream state, events, end-of-stream
 * watchers, a promise chain per read) were ~4% of a streaming gateway's CPU in a `perf` profile,
 * for a body that has exactly one reader. This is the part of it the gateway uses: one reader,
 * chunks queued up to HIGH_WATER bytes before the socket is paused.
 */
export class UpstreamBody implements AsyncIterableIterator<Buffer> {
  /** The request's undici controller: reading resumes it, destroying aborts it. */
  private readonly controller: Dispatcher.DispatchController;
  /** Chunks received and not yet read, and their size. */
  private queue: Buffer[] = [];
  private queued = 0;
  private state: 'open' | 'ended' | 'failed' | 'destroyed' = 'open';
  private failure: UpstreamError | undefined;
  /** The reader waiting for the next chunk. */
  private waiting: { resolve: (r: IteratorResult<Buffer>) => void; reject: (err: Error) => void } | undefined;

  constructor(controller: Dispatcher.DispatchController) {
    this.controller = controller;
  }

  /** Failed or destroyed: nothing more will be read from it. */
  get destroyed(): boolean {
    return this.state === 'failed' || this.state === 'destroyed';
  }

  /** A chunk from the upstream; pauses the socket while our reader is behind. */
  feed(chunk: Buffer): void {
    if (this.state !== 'open') return;
    const waiting = this.waiting;
    if (waiting) {
      this.waiting = undefined;
      waiting.resolve({ done: false, value: chunk });
      return;
    }
    this.queue.push(chunk);
    this.queued += chunk.length;
    if (this.queued >= HIGH_WATER && !this.controller.paused) this.controller.pause();
  }

  finish(): void {
    if (this.state !== 'open') return;
    this.state = 'ended';
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.resolve(DONE);
  }

  /**
   * The upstream failed mid-body: the reader gets the error, already classified as the network's
   * or the cloud's failure (an UpstreamError), so nothing downstream mistakes it for a gateway bug.
   * Chunks that arrived before it are still read first.
   */
  fail(err: Error): void {
    if (this.state !== 'open') return;
    this.state = 'failed';
    this.failure = transportFailure(err);
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.reject(this.failure);
  }

  next(): Promise<IteratorResult<Buffer>> {
    const chunk = this.queue.shift();
    if (chunk) {
      this.queued -= chunk.length;
      if (this.controller.paused && this.queued < HIGH_WATER && this.state === 'open')
        this.controller.resume();
      return Promise.resolve({ done: false, value: chunk });
    }
    if (this.state === 'failed') return Promise.reject(this.failure);
    if (this.state !== 'open') return Promise.resolve(DONE);
    if (this.controller.paused) this.controller.resume();
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  /** A `for await` left early: the rest is not wanted. */
  return(): Promise<IteratorResult<Buffer>> {
    this.destroy();
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Abandoned before the end: the connection cannot be reused with an unread body on it. */
  destroy(err?: Error): void {
    if (this.state === 'open' && !this.controller.aborted) {
      this.controller.abort(err ?? new errors.RequestAbortedError());
    }
    if (this.state !== 'failed') this.state = 'destroyed';
    this.queue = [];
    this.queued = 0;
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.resolve(DONE);
  }

  /** The whole body as UTF-8; rejects with the classified failure if it fails first. */
  async text(): Promise<string> {
    const chunks: Buffer[] = [];
    for (;;) {
      const { done, value } = await this.next();
      if (done) break;
      chunks.push(value);
    }
    return (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8');
  }
}

/** Bytes queued unread before the upstream socket is paused (a Readable's default for bytes). */
const HIGH_WATER = 64 * 1024;
const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/** What readers of a response body use (an UpstreamBody, or a Readable with `text()` in tests). */
export interface ResponseBody extends AsyncIterable<Buffer | Uint8Array | string> {
  text(): Promise<string>;
  destroy(err?: Error): void;
  /** Failed or destroyed: nothing more will be read from it. */
  readonly destroyed: boolean;
}

export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** An UpstreamBody from the transport; in tests, any readable with `text()` will do. */
  body: ResponseBody;
}

export interface SendOptions {
  signal: AbortSignal;
  connectMs: number;
  /**
   * Limit until response headers arrive: the first-byte timeout for a stream; 0 (none) for a
   * non-streaming answer, whose headers come when it is complete: its request's total deadline
   * aborts it instead.
   */
  headersMs: number;
  /** Longest silence between two body chunks. */
  idleMs: number;
  /**
   * Called once when the exchange is over: the response received to its end (its reader may not
   * have read it all yet), or failed, or never sent. After it there is nothing upstream to abort.
   */
  onSettled?: () => void;
}

/** Upper bound on an error body we read: enough for any real error envelope. */
const MAX_ERROR_BODY = 64 * 1024;

/**
 * The one place that opens sockets to clouds: a keep-alive undici pool per origin (inside the
 * Agent), one Agent per connect timeout in use (undici sets that per dispatcher, not per request).
 */
export class Transport {
  private readonly agents = new Map<number, Agent>();

  private agentFor(connectMs: number): Agent {
    let agent = this.agents.get(connectMs);
    if (!agent) {
      agent = new Agent({
        connect: { timeout: connectMs },
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 120_000,
      });
      this.agents.set(connectMs, agent);
    }
    return agent;
  }

  /**
   * Sends one call. Uses undici's dispatch API directly: its request() layer keeps each response's
   * objects reachable across young-generation GCs, which promoted ~7 KB per request and made every
   * scavenge a 7-15 ms pause (measured at 1,000 req/s, see bench/README.md).
   */
  send(call: HttpCall, options: SendOptions): Promise<UpstreamResponse> {
    const { signal } = options;
    if (signal.aborted) {
      options.onSettled?.();
      return Promise.reject(transportFailure(new errors.RequestAbortedError()));
    }
    return new Promise<UpstreamResponse>((resolve, reject) => {
      let controller: Dispatcher.DispatchController | undefined;
      let body: UpstreamBody | undefined;
      // Before undici hands over the controller, onRequestStart sees the abort on the signal itself.
      const onAbort = () => controller?.abort(new errors.RequestAbortedError());
      signal.addEventListener('abort', onAbort, { once: true });
      let settled = false;
      const settle = () => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        options.onSettled?.();
      };
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart: (c) => {
          controller = c;
          if (signal.aborted) c.abort(new errors.RequestAbortedError());
        },
        onResponseStart: (c, statusCode, headers) => {
          body = new UpstreamBody(c);
          resolve({ status: statusCode, headers: headers as IncomingHttpHeaders, body });
        },
        onResponseData: (_c, chunk) => body?.feed(chunk),
        onResponseEnd: () => {
          settle();
          body?.finish();
        },
        onResponseError: (_c, err) => {
          settle();
          if (body) body.fail(err);
          else reject(transportFailure(err));
        },
      };
      try {
        const target = splitUrl(call.url);
        this.agentFor(options.connectMs).dispatch(
          {
            origin: target.origin,
            path: target.path,
            method: call.method,
            headers: call.headers,
            body: call.body ?? null,
            headersTimeout: options.headersMs,
            bodyTimeout: options.idleMs,
          },
          handler,
        );
      } catch (err) {
        settle();
        reject(transportFailure(err));
      }
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => a.close()));
    this.agents.clear();
  }
}

interface UrlTarget {
  origin: string;
  path: string;
}

/** Parsed call URLs: a deployment sends to the same few URLs every time, and parsing one is not free. */
const parsedUrls = new Map<string, UrlTarget>();
const MAX_PARSED_URLS = 1024;

function splitUrl(href: string): UrlTarget {
  let target = parsedUrls.get(href);
  if (!target) {
    const url = new URL(href);
    target = { origin: url.origin, path: url.pathname + url.search };
    if (parsedUrls.size >= MAX_PARSED_URLS) parsedUrls.clear();
    parsedUrls.set(href, target);
  }
  return target;
}

/** Reads at most MAX_ERROR_BODY of an error response, then drops the rest. */
export async function readErrorBody(body: ResponseBody): Promise<string> {
  let text = '';
  try {
    for await (const chunk of body) {
      text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
      if (text.length >= MAX_ERROR_BODY) {
        body.destroy();
        break;
      }
    }
  } catch {
    // A cut error body still leaves the status to classify.
  }
  return text.slice(0, MAX_ERROR_BODY);
}

function transportFailure(err: unknown): UpstreamError {
  return err instanceof UpstreamError ? err : new UpstreamError(failureFromTransportError(err));
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** Maps undici and socket errors to the failure kinds routing understands. */
export function failureFromTransportError(err: unknown): UpstreamFailure {
  if (err instanceof UpstreamError) return err.failure;
  const code = errorCode(err) ?? errorCode((err as { cause?: unknown } | null)?.cause);
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return { kind: 'timeout', retryable: true, message: 'connect timeout' };
    case 'UND_ERR_HEADERS_TIMEOUT':
      return {
        kind: 'timeout',
        retryable: true,
        message:
          'no response headers in time (timeouts.firstByteMs for a stream, timeouts.totalMs otherwise)',
      };
    case 'UND_ERR_BODY_TIMEOUT':
      return { kind: 'timeout', retryable: true, message: 'the response went idle past the idle timeout' };
    case 'UND_ERR_ABORTED':
    case 'ABORT_ERR':
      return { kind: 'timeout', retryable: true, message: 'aborted' };
    case 'ECONNREFUSED':
      return { kind: 'connection', retryable: true, message: 'connection refused' };
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return { kind: 'connection', retryable: true, message: 'connection reset by the upstream' };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { kind: 'connection', retryable: true, message: 'upstream host not found' };
    default: {
      const name = err instanceof Error ? err.name : 'error';
      return { kind: 'connection', retryable: true, message: `transport ${name}${code ? ` ${code}` : ''}` };
    }
  }
}
