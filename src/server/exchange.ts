import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayError } from '../core/errors.ts';
import { openAIErrorBody } from '../egress/openai/errors.ts';

/** One HTTP request/response pair and what the contract's response headers report about it. */
export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  id: string;
  startedAtMs: number;
  provider: string;
  deployment: string;
  attempts: number;
  /** Headers every answer to this request carries besides the contract's (a key's x-ratelimit-*). */
  headers: Record<string, string>;
}

export function newExchange(req: IncomingMessage, res: ServerResponse): Exchange {
  return {
    req,
    res,
    id: `req_${randomUUID().replaceAll('-', '')}`,
    startedAtMs: Date.now(),
    provider: '',
    deployment: '',
    attempts: 0,
    headers: {},
  };
}

/** Headers every response carries, errors included. */
export function contractHeaders(ex: Exchange): Record<string, string> {
  return {
    ...ex.headers,
    'x-request-id': ex.id,
    'x-switchyard-provider': ex.provider,
    'x-switchyard-deployment': ex.deployment,
    'x-switchyard-attempts': String(ex.attempts),
  };
}

/** `payload` is the body already serialised, when the caller needed the text too. */
export function sendJson(
  ex: Exchange,
  status: number,
  body: unknown,
  extra: Record<string, string> = {},
  payload: string = JSON.stringify(body),
): void {
  ex.res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(payload)),
    ...contractHeaders(ex),
    ...extra,
  });
  ex.res.end(payload);
}

export function sendError(ex: Exchange, err: GatewayError): void {
  if (ex.res.headersSent) {
    ex.res.destroy();
    return;
  }
  const extra: Record<string, string> = { ...err.headers };
  if (err.retryAfterMs !== undefined)
    extra['retry-after'] = String(Math.max(1, Math.ceil(err.retryAfterMs / 1000)));
  // A body we refused to read must not be parsed as the next request on this connection.
  if (err.code === 'body_too_large') extra.connection = 'close';
  sendJson(ex, err.status, openAIErrorBody(err), extra);
}

/**
 * Writes a streamed response in batches: text handed over while one batch of I/O is handled
 * leaves in one socket write, flushed once this turn of the event loop is done, by `end`, or as
 * soon as it reaches the socket's high-water mark. A stream whose events arrive together then
 * costs one syscall instead of one per upstream chunk plus one for the end (socket writes are the
 * largest CPU cost of a stream here). Not `cork()`: `end()` on a corked chunked response sends
 * the terminating chunk before the corked data.
 */
export class BatchedWriter {
  private readonly res: ServerResponse;
  private readonly signal: AbortSignal;
  private pending = '';

  constructor(res: ServerResponse, signal: AbortSignal) {
    this.res = res;
    this.signal = signal;
  }

  /**
   * Queues text for this turn's write; waits while the client's socket buffer is full, resolving
   * early if the client leaves or `signal` aborts (a deadline must not wait on a client that
   * reads nothing).
   */
  write(text: string): Promise<void> | undefined {
    if (this.pending === '') setImmediate(this.flush);
    this.pending += text;
    // A batch as large as the socket's buffer goes now: batching must not hold back backpressure.
    if (this.pending.length >= this.res.writableHighWaterMark) this.flush();
    return this.res.writableNeedDrain ? waitForDrain(this.res, this.signal) : undefined;
  }

  /** Ends the response with what is still queued, then `text`. */
  end(text: string): void {
    const all = this.pending + text;
    this.pending = '';
    this.res.end(all);
  }

  private readonly flush = (): void => {
    const text = this.pending;
    this.pending = '';
    if (text !== '' && !this.res.writableEnded && !this.res.destroyed) this.res.write(text);
  };
}

function waitForDrain(res: ServerResponse, signal: AbortSignal): Promise<void> | undefined {
  if (res.destroyed || signal.aborted) return undefined;
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
    signal.addEventListener('abort', done);
  });
}
