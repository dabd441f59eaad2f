import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../core/errors.ts';

function tooLarge(limit: number): GatewayError {
  return new GatewayError(
    'body_too_large',
    `request body is larger than the limit of ${limit} bytes (server.maxBodyBytes)`,
  );
}

/** Reads a request body up to `limit` bytes; refuses early on a Content-Length over the limit. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req) {
      const buffer = chunk as Buffer;
      size += buffer.length;
      if (size > limit) throw tooLarge(limit);
      chunks.push(buffer);
    }
  } catch (err) {
    if (err instanceof GatewayError) throw err;
    // The client hung up mid-body: nobody is left to answer, and it is no gateway fault.
    throw new GatewayError('invalid_request', 'body: the connection closed before the body was complete');
  }
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
}

export function parseJsonBody(raw: Buffer): unknown {
  if (raw.length === 0) throw new GatewayError('invalid_request', 'body: is required (a JSON object)');
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new GatewayError('invalid_request', 'body: could not be parsed as JSON');
  }
}
