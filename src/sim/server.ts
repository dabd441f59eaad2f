/**
 * The cloud-neutral HTTP shell of a simulated cloud: reads and records requests, serves the
 * `/_sim/*` control routes (faults, recorded requests, knobs), applies latency, and hands every
 * other request to one protocol handler. Built for load: no logging, keep-alive on, and nothing
 * per request beyond a bounded record.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FaultQueue, faultListSchema, type SimFault, type StatusFault } from './faults.ts';
import { type Headers, readBody, resetConnection, sendJson, sendRedirect, sleep } from './http.ts';
import { type Admission, type RateLimitKnob, RateWindow, rateLimitSchema } from './rate-limit.ts';

export interface SimKnobs {
  /** Delay before any response headers, in milliseconds. */
  latencyMs: number;
  /** Stream pacing; 0 means as fast as possible. */
  tokensPerSecond: number;
  /** Absent: no limit, and the cloud's usual static capacity headers (see rate-limit.ts). */
  rateLimit?: RateLimitKnob;
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
  /**
   * Counts an inference request against the `rateLimit` knob, before its fault is taken: a
   * throttled request answers the cloud's 429 and leaves the fault queue alone.
   */
  admit(): Admission;
  /** Tokens an admitted request used (prompt and completion, or embedding input). */
  chargeTokens(input: number, output: number): void;
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
 * Settles the faults that decide the whole answer (reset, hang, status, redirect) and waits out a
 * `delay`. Resolves true when the request needs nothing more (also when the sim closed during a
 * delay); `cut` and `stream_error` resolve false and the caller threads them into its renderer.
 */
export async function settleFault(
  ex: Exchange,
  fault: SimFault | undefined,
  sim: SimRuntime,
  renderStatus: (f: StatusFault) => void,
): Promise<boolean> {
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
    case 'redirect':
      sendRedirect(ex.req, ex.res, fault.status, fault.location);
      return true;
    case 'delay':
      // A long non-streaming generation: the cloud sends its headers when the answer is done.
      return !(await sleep(fault.ms, sim.signal));
    case 'cut':
    case 'stream_error':
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

/** `rateLimit` of a knobs body: a limit, null to clear it, or the error message for a bad one. */
function parseRateLimit(value: unknown): RateLimitKnob | null | string {
  if (value === null) return null;
  const parsed = rateLimitSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  return `invalid rateLimit: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'rateLimit'}: ${i.message}`).join('; ')}`;
}

/** Sets or (null, or a limit without any field) clears the `rateLimit` knob. */
export function setRateLimit(knobs: SimKnobs, rateLimit: RateLimitKnob | null): void {
  if (rateLimit === null || Object.keys(rateLimit).length === 0) delete knobs.rateLimit;
  else knobs.rateLimit = rateLimit;
}

export async function startServer(
  host: string,
  port: number,
  knobs: SimKnobs,
  handler: ProtocolHandler,
  random: () => number = Math.random,
): Promise<SimServer> {
  const faults = new FaultQueue(random);
  let recorded: RecordedRequest[] = [];
  const closing = new AbortController();
  const rateWindow = new RateWindow(() => knobs.rateLimit);
  const runtime: SimRuntime = {
    knobs,
    signal: closing.signal,
    takeFault: (model) => faults.take(model),
    admit: () => rateWindow.admit(Date.now()),
    chargeTokens: (input, output) => rateWindow.charge(input, output, Date.now()),
  };

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
      const rateLimit = body?.rateLimit === undefined ? undefined : parseRateLimit(body.rateLimit);
      if (typeof rateLimit === 'string') return sendJson(res, 400, simError(rateLimit));
      for (const key of ['latencyMs', 'tokensPerSecond'] as const) {
        const value = body?.[key];
        if (typeof value === 'number' && value >= 0) knobs[key] = value;
      }
      if (rateLimit !== undefined) setRateLimit(knobs, rateLimit);
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
