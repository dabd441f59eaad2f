import type { IncomingMessage } from 'node:http';
import { finished } from 'node:stream';
import { GatewayError } from '../core/errors.ts';

function tooLarge(limit: number): GatewayError {
  return new GatewayError(
    'body_too_large',
    `request body is larger than the limit of ${limit} bytes (server.maxBodyBytes)`,
  );
}

/**
 * Reads a request body up to `limit` bytes; refuses early on a Content-Length over the limit.
 * Listeners, not `for await`: the async iterator was a measurable share of a small request's CPU.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        // The rest is read and dropped: the 413 (sent with `connection: close`) reaches the client
        // instead of a reset for unread data.
        req.off('data', onData);
        req.resume();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    finished(req, (err) => {
      // The client hung up mid-body: nobody is left to answer, and it is no gateway fault.
      if (err)
        reject(
          new GatewayError('invalid_request', 'body: the connection closed before the body was complete'),
        );
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
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
