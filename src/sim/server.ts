/**
 * The cloud-neutral HTTP shell of a simulated cloud: reads and records requests, serves the
 * `/_sim/*` control routes (faults, recorded requests, knobs), applies latency, and hands every
 * other request to one protocol handler. Built for load: no logging, keep-alive on, and nothing
 * per request beyond a bounded record.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FaultQueue, faultListSchema, type SimFault, type StatusFault } from './faults.ts';
import { type Headers, readBody, resetConnection, sendJson, sleep } from './http.ts';

export interface SimKnobs {
  /** Delay before any response headers, in milliseconds. */
  latencyMs: number;
  /** Stream pacing; 0 means as fast as possible. */
  tokensPerSecond: number;
}

export interface RecordedRequest {
  /** ISO time the request arrived. */
  time: string;
  method: string;
  path: string;
  query: Record<string, string>;
  /** Lower-case names; credentials replaced by `[redacted]` (the auth scheme is kept). */
  headers: Record<string, string>;
  /** Parsed JSON or form body (secrets redacted), raw text otherwise, undefined when empty. */
  body: unknown;
}

export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
  /** The body claimed to be JSON but did not parse. */
  bodyInvalid: boolean;
  /** The body bytes as received (a SigV4 verifier hashes exactly these). */
  rawBody: Buffer | undefined;
}

export interface SimRuntime {
  knobs: SimKnobs;
  /** Aborted when the sim closes: pending sleeps end and streams stop. */
  signal: AbortSignal;
  /** Consumes the next fault for a request to `model` (see faults.ts for which requests do). */
  takeFault(model: string | undefined): SimFault | undefined;
}

export type ProtocolHandler = (ex: Exchange, sim: SimRuntime) => Promise<void> | void;

const MAX_BODY_BYTES = 32 * 1024 * 1024;
const MAX_RECORDED = 200;
const SECRET_HEADERS = new Set([
  'authorization',
  'api-key',
  'x-api-key',
  'x-goog-api-key',
  'x-amz-security-token',
  'cookie',
  'proxy-authorization',
]);
const SECRET_FIELDS = new Set([
  'client_secret',
  'client_assertion',
  'assertion',
  'password',
  'refresh_token',
]);

/**
 * Settles the socket-level and status faults. Returns true when the request needs nothing more;
 * a `cut` fault returns false and the caller threads it into its renderer.
 */
export function settleFault(
  ex: Exchange,
  fault: SimFault | undefined,
  renderStatus: (f: StatusFault) => void,
) {
  if (!fault) return false;
  switch (fault.kind) {
    case 'reset':
      resetConnection(ex.req);
      return true;
    case 'hang':
      // Never answer; close() destroys the socket (server.closeAllConnections).
      return true;
    case 'status':
      renderStatus(fault);
      return true;
    case 'cut':
      return false;
  }
}

function redactHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(', ') : value;
    if (!SECRET_HEADERS.has(name)) out[name] = text;
    else {
      const scheme = /^(Bearer|Basic)\s/i.exec(text);
      out[name] = scheme ? `${scheme[1]} [redacted]` : '[redacted]';
    }
  }
  return out;
}

function redactBody(body: unknown): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return body;
  const entries = Object.entries(body);
  if (!entries.some(([k]) => SECRET_FIELDS.has(k))) return body;
  return Object.fromEntries(entries.map(([k, v]) => [k, SECRET_FIELDS.has(k) ? '[redacted]' : v]));
}

function parseBody(req: IncomingMessage, raw: Buffer | undefined): { body: unknown; invalid: boolean } {
  if (!raw || raw.length === 0) return { body: undefined, invalid: false };
  const type = req.headers['content-type'] ?? '';
  const text = raw.toString('utf8');
  if (type.includes('application/x-www-form-urlencoded')) {
    return { body: Object.fromEntries(new URLSearchParams(text)), invalid: false };
  }
  if (type.includes('json') || type === '') {
    try {
      return { body: JSON.parse(text), invalid: false };
    } catch {
      return { body: text, invalid: true };
    }
  }
  return { body: text, invalid: false };
}

export interface SimServer {
  server: Server;
  port: number;
  faults: FaultQueue;
  knobs: SimKnobs;
  requests(): RecordedRequest[];
  clearRequests(): void;
  close(): Promise<void>;
}

const simError = (message: string) => ({ error: { message, type: 'sim_error' } });

export async function startServer(
  host: string,
  port: number,
  knobs: SimKnobs,
  handler: ProtocolHandler,
): Promise<SimServer> {
  const faults = new FaultQueue();
  let recorded: RecordedRequest[] = [];
  const closing = new AbortController();
  const runtime: SimRuntime = { knobs, signal: closing.signal, takeFault: (model) => faults.take(model) };

  function control(ex: Exchange) {
    const { method, path, res } = ex;
    const ok = (body: unknown) => sendJson(res, 200, body);
    if (path === '/_sim/faults' && method === 'GET') return ok({ faults: faults.pending() });
    if (path === '/_sim/faults' && method === 'DELETE') {
      faults.clear();
      return ok({ faults: [] });
    }
    if (path === '/_sim/faults' && method === 'POST') {
      const parsed = faultListSchema.safeParse(ex.body);
      if (!parsed.success) return sendJson(res, 400, simError(`invalid faults: ${parsed.error.message}`));
      faults.add(parsed.data.faults);
      return ok({ faults: faults.pending() });
    }
    if (path === '/_sim/requests' && method === 'GET') return ok({ data: recorded });
    if (path === '/_sim/requests' && method === 'DELETE') {
      recorded = [];
      return ok({ data: [] });
    }
    if (path === '/_sim/knobs' && method === 'GET') return ok(knobs);
    if (path === '/_sim/knobs' && method === 'POST') {
      const body = ex.body as Partial<Record<keyof SimKnobs, unknown>> | undefined;
      for (const key of ['latencyMs', 'tokensPerSecond'] as const) {
        const value = body?.[key];
        if (typeof value === 'number' && value >= 0) knobs[key] = value;
      }
      return ok(knobs);
    }
    sendJson(res, 404, simError(`no sim control route ${method} ${path}`));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const path = q === -1 ? target : target.slice(0, q);
    const query = new URLSearchParams(q === -1 ? '' : target.slice(q + 1));
    const method = req.method ?? 'GET';
    const raw = method === 'GET' || method === 'HEAD' ? undefined : await readBody(req, MAX_BODY_BYTES);
    if (raw === undefined && method !== 'GET' && method !== 'HEAD') {
      return sendJson(res, 413, simError(`request body larger than ${MAX_BODY_BYTES} bytes`), {
        connection: 'close',
      });
    }
    const { body, invalid } = parseBody(req, raw);
    const ex: Exchange = { req, res, method, path, query, body, bodyInvalid: invalid, rawBody: raw };
    if (path.startsWith('/_sim/')) return control(ex);

    recorded.push({
      time: new Date().toISOString(),
      method,
      path,
      query: Object.fromEntries(query),
      headers: redactHeaders(req),
      body: redactBody(body),
    });
    if (recorded.length > MAX_RECORDED) recorded.shift();

    if (knobs.latencyMs > 0 && !(await sleep(knobs.latencyMs, closing.signal))) return;
    await handler(ex, runtime);
  }

  const server = createServer({ keepAliveTimeout: 65_000, headersTimeout: 66_000 }, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      // A bug in a sim must be visible to the test driving it, not hang the client.
      if (res.headersSent) res.destroy();
      else sendJson(res, 500, simError(`simulator failure: ${String(error)}`));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });

  return {
    server,
    port: (server.address() as AddressInfo).port,
    faults,
    knobs,
    requests: () => recorded.slice(),
    clearRequests: () => {
      recorded = [];
    },
    close: () =>
      new Promise<void>((resolve) => {
        closing.abort();
        server.close(() => resolve());
        // Keep-alive and hanging connections would otherwise hold close() open.
        server.closeAllConnections();
      }),
  };
}

export type { Headers };
