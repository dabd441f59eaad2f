import type { IncomingMessage } from 'node:http';
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
 * One timer watches both limits: a chunk only notes when it came, and the timer, when it fires,
 * sleeps again until the earlier of the two limits if neither has passed (timers made and cleared
 * per chunk, and stream.finished's half-dozen listeners, were another share).
 */
export function readBody(
  req: IncomingMessage,
  limit: number,
  timeoutMs: number,
  maxIdleMs = BODY_IDLE_MS,
): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const startedAtMs = Date.now();
    const idleMs = Math.min(maxIdleMs, timeoutMs);
    let lastByteAtMs = startedAtMs;
    const settle = (err: GatewayError | undefined, body?: Buffer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      if (err) reject(err);
      else resolve(body!);
    };
    const giveUp = (what: string) => {
      // The 408 goes out with `connection: close`: node destroys the socket once it is written.
      settle(timedOut(what));
    };
    const check = () => {
      const now = Date.now();
      if (now - startedAtMs >= timeoutMs) return giveUp(`not complete within ${timeoutMs} ms`);
      if (now - lastByteAtMs >= idleMs) return giveUp(`no bytes for ${idleMs} ms`);
      timer = setTimeout(check, Math.min(startedAtMs + timeoutMs, lastByteAtMs + idleMs) - now);
    };
    let timer = setTimeout(check, idleMs);
    const onData = (chunk: Buffer) => {
      lastByteAtMs = Date.now();
      size += chunk.length;
      if (size > limit) {
        // The rest is read and dropped: the 413 (sent with `connection: close`) reaches the client
        // instead of a reset for unread data.
        settle(tooLarge(limit));
        req.resume();
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => settle(undefined, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    // Closed before its end: the client hung up mid-body, nobody is left to answer, and it is no
    // gateway fault.
    const onClose = () =>
      settle(new GatewayError('invalid_request', 'body: the connection closed before the body was complete'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
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
