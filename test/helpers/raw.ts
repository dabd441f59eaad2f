/** Raw HTTP helpers for end-to-end tests that need full control of an upstream's bytes and sockets. */
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { parseConfigText } from '../../src/config/index.ts';
import { type ListenOptions, type RunningGateway, startGateway } from '../../src/server/http.ts';
import { memoryLogger } from '../../src/telemetry/log.ts';

export interface Upstream {
  server: Server;
  url: string;
  sockets: Set<Socket>;
  /** When each socket closed (ms since epoch), in order. */
  socketClosedAt: number[];
  requests: number;
  bodies: string[];
  close(): Promise<void>;
}

export type UpstreamHandler = (req: IncomingMessage, res: ServerResponse, up: Upstream, body: string) => void;

export async function startUpstream(handler: UpstreamHandler): Promise<Upstream> {
  const sockets = new Set<Socket>();
  const up = { sockets, requests: 0, bodies: [], socketClosedAt: [] } as unknown as Upstream;
  up.server = createServer((req, res) => {
    up.requests++;
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      up.bodies.push(body);
      handler(req, res, up, body);
    });
  });
  up.server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => {
      sockets.delete(s);
      up.socketClosedAt.push(Date.now());
    });
  });
  await new Promise<void>((resolve) => up.server.listen(0, '127.0.0.1', resolve));
  up.url = `http://127.0.0.1:${(up.server.address() as AddressInfo).port}`;
  up.close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => up.server.close(() => resolve()));
  };
  return up;
}

export interface RawResponse {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
  /** When the last byte arrived. */
  endedAt: number;
}

/** Sends a request and reads the whole answer; a socket error resolves as `{ error }`. */
export function send(
  url: string,
  path: string,
  body: string | undefined,
  headers: Record<string, string> = {},
  method = 'POST',
): Promise<RawResponse | { error: string }> {
  return new Promise((resolve) => {
    const req = request(`${url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, endedAt: Date.now() }),
      );
      res.on('error', (err) => resolve({ error: String(err) }));
    });
    req.on('error', (err) =>
      resolve({ error: `${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}` }),
    );
    req.end(body);
  });
}

export function assertResponse(r: RawResponse | { error: string }): RawResponse {
  if ('error' in r) throw new Error(`expected a response, got ${r.error}`);
  return r;
}

export async function waitFor(check: () => boolean, boundMs = 3000): Promise<boolean> {
  const until = Date.now() + boundMs;
  while (Date.now() < until) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return check();
}

/** Retries an async check every 100 ms until it holds or `boundMs` passes. */
export async function eventually(check: () => Promise<boolean>, boundMs = 3000): Promise<boolean> {
  const until = Date.now() + boundMs;
  while (Date.now() < until) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

/** An OpenAI-compatible provider entry for an upstream. */
export function providerYaml(id: string, up: Upstream): string {
  return `{ id: ${id}, type: openai-compatible, region: on-prem, endpoint: ${up.url}/v1 }`;
}

/** A gateway from YAML text, with its operator log kept in memory. */
export async function gatewayFromYaml(yaml: string, options: ListenOptions = {}) {
  const log = memoryLogger();
  const config = parseConfigText(yaml, '/tmp/switchyard-raw-test.yaml', {});
  const gateway: RunningGateway = await startGateway(config, { port: 0, host: '127.0.0.1', log, ...options });
  return { gateway, log, url: gateway.url };
}

export function chunkFrame(delta: Record<string, unknown>, finish: string | null = null): string {
  return `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
}

export function completion(text: string): string {
  return JSON.stringify({
    id: 'c1',
    object: 'chat.completion',
    created: 1,
    model: 'm',
    choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
  });
}
