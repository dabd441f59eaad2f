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
  };
}

/** Headers every response carries, errors included. */
export function contractHeaders(ex: Exchange): Record<string, string> {
  return {
    'x-request-id': ex.id,
    'x-switchyard-provider': ex.provider,
    'x-switchyard-deployment': ex.deployment,
    'x-switchyard-attempts': String(ex.attempts),
  };
}

export function sendJson(
  ex: Exchange,
  status: number,
  body: unknown,
  extra: Record<string, string> = {},
): void {
  const payload = JSON.stringify(body);
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
  const extra: Record<string, string> = {};
  if (err.retryAfterMs !== undefined)
    extra['retry-after'] = String(Math.max(1, Math.ceil(err.retryAfterMs / 1000)));
  // A body we refused to read must not be parsed as the next request on this connection.
  if (err.code === 'body_too_large') extra.connection = 'close';
  sendJson(ex, err.status, openAIErrorBody(err), extra);
}

/**
 * Writes and waits while the client's socket buffer is full; resolves early if the client leaves
 * or `signal` aborts (a deadline must not wait on a client that reads nothing).
 */
export function writeWithBackpressure(
  res: ServerResponse,
  chunk: string,
  signal: AbortSignal,
): Promise<void> | undefined {
  if (res.write(chunk) || res.destroyed || signal.aborted) return undefined;
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
