import type { IncomingMessage } from 'node:http';
import { finished } from 'node:stream';
import { GatewayError } from '../core/errors.ts';

function tooLarge(limit: number): GatewayError {
  return new GatewayError(
    'body_too_large',
    `request body is larger than the limit of ${limit} bytes (server.maxBodyBytes)`,
  );
}

/** Longest silence between two pieces of a request body (capped by the whole-body deadline). */
export const BODY_IDLE_MS = 10_000;

function timedOut(what: string): GatewayError {
  return new GatewayError(
    'request_timeout',
    `body: ${what} (server.bodyTimeoutMs); the connection is closed`,
    {
      headers: { connection: 'close' },
    },
  );
}

/**
 * Reads a request body up to `limit` bytes within `timeoutMs`; refuses early on a Content-Length
 * over the limit. A body that trickles (silent for BODY_IDLE_MS, or not complete by the deadline)
 * gets 408 and its connection closed, so a slow client cannot hold a socket and a request slot.
 * Listeners, not `for await`: the async iterator was a measurable share of a small request's CPU.
 */
export function readBody(req: IncomingMessage, limit: number, timeoutMs: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (err: GatewayError | undefined, body?: Buffer) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      clearTimeout(idle);
      if (err) reject(err);
      else resolve(body!);
    };
    const giveUp = (what: string) => {
      req.off('data', onData);
      // The 408 goes out with `connection: close`: node destroys the socket once it is written.
      settle(timedOut(what));
    };
    const deadline = setTimeout(() => giveUp(`not complete within ${timeoutMs} ms`), timeoutMs);
    const idleMs = Math.min(BODY_IDLE_MS, timeoutMs);
    let idle = setTimeout(() => giveUp(`no bytes for ${idleMs} ms`), idleMs);
    const onData = (chunk: Buffer) => {
      clearTimeout(idle);
      idle = setTimeout(() => giveUp(`no bytes for ${idleMs} ms`), idleMs);
      size += chunk.length;
      if (size > limit) {
        // The rest is read and dropped: the 413 (sent with `connection: close`) reaches the client
        // instead of a reset for unread data.
        req.off('data', onData);
        req.resume();
        settle(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    finished(req, (err) => {
      // The client hung up mid-body: nobody is left to answer, and it is no gateway fault.
      if (err) {
        settle(
          new GatewayError('invalid_request', 'body: the connection closed before the body was complete'),
        );
      } else settle(undefined, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
  });
}

export function parseJsonBody(raw: Buffer): unknown {
  if (raw.length === 0) throw new GatewayError('invalid_request', 'body: is required (a JSON object)');
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new GatewayError('invalid_request', 'body: could not be parsed as JSON');
  }
}
