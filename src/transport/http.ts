import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import { type HttpCall, UpstreamError, type UpstreamFailure } from '../providers/types.ts';

export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Read with `for await`: pulling only when the client has taken the last piece is the backpressure. */
  body: Readable & { text(): Promise<string> };
}

export interface SendOptions {
  signal: AbortSignal;
  connectMs: number;
  /** Limit until response headers arrive. */
  headersMs: number;
  /** Longest silence between two body chunks. */
  idleMs: number;
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

  async send(call: HttpCall, options: SendOptions): Promise<UpstreamResponse> {
    try {
      const response = await request(call.url, {
        method: call.method,
        headers: call.headers,
        body: call.body ?? null,
        signal: options.signal,
        dispatcher: this.agentFor(options.connectMs),
        headersTimeout: options.headersMs,
        bodyTimeout: options.idleMs,
      });
      return {
        status: response.statusCode,
        headers: response.headers as IncomingHttpHeaders,
        body: response.body,
      };
    } catch (err) {
      throw new UpstreamError(failureFromTransportError(err));
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => a.close()));
    this.agents.clear();
  }
}

/** Reads at most MAX_ERROR_BODY of an error response, then drops the rest. */
export async function readErrorBody(body: Readable): Promise<string> {
  let text = '';
  try {
    for await (const chunk of body) {
      text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
      if (text.length >= MAX_ERROR_BODY) {
        // Destroying an undici body emits an abort error; it must not go unheard.
        body.on('error', () => {});
        body.destroy();
        break;
      }
    }
  } catch {
    // A cut error body still leaves the status to classify.
  }
  return text.slice(0, MAX_ERROR_BODY);
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
        message: 'no response headers before the first-byte timeout',
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
