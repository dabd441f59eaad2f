/** Review tests for the gateway core: lifecycle, body limits, streaming pipe, breaker. */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { describe, test } from 'node:test';
import { parseConfigText } from '../../src/config/index.ts';
import { type RunningGateway, startGateway } from '../../src/server/http.ts';

const KEY = 'sk-review-core-0001';

interface Upstream {
  server: Server;
  url: string;
  sockets: Set<Socket>;
  requests: number;
  closedEarly: number;
  close(): Promise<void>;
}

type UpstreamHandler = (req: IncomingMessage, res: ServerResponse, up: Upstream) => void;

async function startUpstream(handler: UpstreamHandler): Promise<Upstream> {
  const sockets = new Set<Socket>();
  const up = { sockets, requests: 0, closedEarly: 0 } as Upstream;
  up.server = createServer((req, res) => {
    up.requests++;
    res.on('close', () => {
      if (!res.writableFinished) up.closedEarly++;
    });
    req.resume();
    req.on('end', () => handler(req, res, up));
  });
  up.server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => up.server.listen(0, '127.0.0.1', resolve));
  up.url = `http://127.0.0.1:${(up.server.address() as AddressInfo).port}`;
  up.close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => up.server.close(() => resolve()));
  };
  return up;
}

function chunkFrame(delta: Record<string, unknown>, finish: string | null = null): string {
  return `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
}

async function gatewayFor(
  upstreamUrl: string,
  opts: { totalMs?: number; maxBodyBytes?: number; graceMs?: number } = {},
): Promise<RunningGateway> {
  const config = parseConfigText(
    `
server: { maxBodyBytes: ${opts.maxBodyBytes ?? 65536}, shutdownGraceMs: ${opts.graceMs ?? 2000} }
storage: memory
routing:
  timeouts: { connectMs: 1000, firstByteMs: 5000, idleMs: 5000, totalMs: ${opts.totalMs ?? 20000} }
  retry: { maxAttempts: 3, budgetPercent: 100 }
  circuitBreaker: { failureThreshold: 1000, cooldownMs: 30000 }
providers: [{ id: up, type: openai-compatible, region: on-prem, endpoint: ${upstreamUrl}/v1 }]
models: [{ name: m, deployments: [{ provider: up, model: m }] }]
keys: [{ name: app, key: ${KEY} }]
`,
    '/tmp/review-core.yaml',
    {},
  );
  return startGateway(config, { port: 0, host: '127.0.0.1' });
}

interface RawResponse {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

/** Sends a request and reads the whole answer; a socket error resolves as `{ error }`. */
function send(
  url: string,
  path: string,
  body: string | Buffer[] | undefined,
  headers: Record<string, string> = {},
  method = 'POST',
): Promise<RawResponse | { error: string }> {
  return new Promise((resolve) => {
    const req = request(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', ...headers },
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      res.on('error', (err) => resolve({ error: String(err) }));
    });
    req.on('error', (err) =>
      resolve({ error: `${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}` }),
    );
    if (Array.isArray(body)) {
      for (const b of body) req.write(b);
      req.end();
    } else req.end(body);
  });
}

async function waitFor(check: () => boolean, boundMs = 3000): Promise<boolean> {
  const until = Date.now() + boundMs;
  while (Date.now() < until) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}

const CHAT = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });

describe('request body limits', () => {
  test('a declared Content-Length over maxBodyBytes gets 413 with contract headers', async () => {
    const up = await startUpstream((_req, res) => res.end('{}'));
    const gw = await gatewayFor(up.url, { maxBodyBytes: 1024 });
    try {
      const big = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x'.repeat(4096) }] });
      const r = await send(gw.url, '/v1/chat/completions', big);
      assert.ok('status' in r, `expected a response, got ${JSON.stringify(r)}`);
      assert.equal(r.status, 413);
      assert.ok(r.headers['x-request-id']);
      assert.equal(JSON.parse(r.body).error.code, 'body_too_large');
    } finally {
      await gw.shutdown(0);
      await up.close();
    }
  });

  test('a chunked body (no Content-Length) over maxBodyBytes gets 413, not a connection reset', async () => {
    const up = await startUpstream((_req, res) => res.end('{}'));
    const gw = await gatewayFor(up.url, { maxBodyBytes: 1024 });
    try {
      const parts = Array.from({ length: 8 }, () => Buffer.from('x'.repeat(1024)));
      const r = await send(gw.url, '/v1/chat/completions', parts, { 'transfer-encoding': 'chunked' });
      assert.ok('status' in r, `expected a 413 response, got ${JSON.stringify(r)}`);
      assert.equal(r.status, 413);
    } finally {
      await gw.shutdown(0);
      await up.close();
    }
  });
});

/** An upstream that sends its first chunk, then big chunks as fast as the gateway takes them, forever. */
function endlessStream(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write(chunkFrame({ role: 'assistant', content: '' }));
  const pad = 'y'.repeat(16 * 1024);
  const pump = () => {
    while (!res.destroyed) {
      if (!res.write(chunkFrame({ content: pad }))) {
        res.once('drain', pump);
        return;
      }
    }
  };
  pump();
}

/** Opens a streaming chat request and hands back the response unread (paused). */
function openStream(url: string): Promise<{ res: IncomingMessage; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    });
    req.on('response', (res) => {
      res.pause();
      resolve({ res, socket: res.socket as Socket });
    });
    req.on('error', reject);
    req.end(JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'go' }] }));
  });
}

describe('streaming pipe', () => {
  test('a client that stops reading a stream is let go once totalMs passes (deployment in-flight released)', async () => {
    const up = await startUpstream(endlessStream);
    const gw = await gatewayFor(up.url, { totalMs: 600 });
    const { res, socket } = await openStream(gw.url);
    try {
      assert.equal(res.statusCode, 200);
      // The total deadline aborts the upstream call: the upstream sees its client (the gateway) go.
      assert.ok(await waitFor(() => up.closedEarly === 1, 5000), 'upstream was not aborted at totalMs');
      const inFlight = () =>
        gw.runtime.states.view(
          'up/m',
          {
            failureThreshold: 5,
            failureRatePercent: 100,
            minimumRequests: 1000,
            windowMs: 30_000,
            cooldownMs: 1,
          },
          Date.now(),
        ).inFlight;
      // The gateway should now end (or destroy) the response; it never does while the client stalls.
      const released = await waitFor(() => inFlight() === 0 || socket.destroyed || res.complete, 2000);
      assert.ok(released, `still in flight ${inFlight()} after the total deadline`);
    } finally {
      socket.destroy();
      await gw.shutdown(0);
      await up.close();
    }
  });

  test('a stream still running when the shutdown grace ends gets an error event, not a silent cut', async () => {
    // First output, then silence: the stream is in flight when shutdown begins.
    const up = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunkFrame({ role: 'assistant', content: 'Hel' }));
    });
    const gw = await gatewayFor(up.url);
    const { res } = await openStream(gw.url);
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => {
      text += c;
    });
    const ended = new Promise<void>((resolve) => {
      res.on('close', () => resolve());
      res.on('error', () => resolve());
    });
    res.resume();
    try {
      assert.ok(await waitFor(() => text.includes('Hel')), 'first output did not arrive');
      assert.equal(gw.runtime.stopping.size, 1, 'the stream in flight listens for the stop');
      const { drained } = await gw.shutdown(100);
      assert.equal(drained, false);
      await ended;
      assert.match(text, /event: error\n/, `stream ended silently: ${JSON.stringify(text.slice(-200))}`);
      assert.doesNotMatch(text, /\[DONE\]/);
    } finally {
      await up.close();
    }
  });
});

describe('the stop signal', () => {
  test('finished requests, streamed or not, failed or not, leave no stop listener behind', async () => {
    let calls = 0;
    const up = await startUpstream((_req, res) => {
      calls++;
      if (calls % 3 === 0) {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'bad', type: 'invalid_request_error' } }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunkFrame({ role: 'assistant', content: 'Hi' }));
      res.end('data: [DONE]\n\n');
    });
    const gw = await gatewayFor(up.url);
    try {
      for (let i = 0; i < 9; i++) {
        const { res } = await openStream(gw.url);
        res.resume();
        await new Promise<void>((resolve) => res.on('close', () => resolve()));
      }
      assert.ok(await waitFor(() => gw.runtime.inFlight() === 0), 'requests still in flight');
      assert.equal(calls, 9);
      assert.equal(gw.runtime.stopping.size, 0);
    } finally {
      await gw.shutdown(0);
      await up.close();
    }
  });
});

describe('streaming pipe (checked, correct)', () => {
  test('an upstream cut after the first output ends the stream with event: error and no [DONE]', async () => {
    const up = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunkFrame({ role: 'assistant', content: 'Hel' }));
      setImmediate(() => res.socket?.destroy());
    });
    const gw = await gatewayFor(up.url);
    try {
      const r = await send(
        gw.url,
        '/v1/chat/completions',
        JSON.stringify({ ...JSON.parse(CHAT), stream: true }),
      );
      assert.ok('status' in r, JSON.stringify(r));
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-switchyard-provider'], 'up');
      assert.match(r.body, /Hel/);
      assert.match(r.body, /event: error\ndata: \{"error":/);
      assert.doesNotMatch(r.body, /\[DONE\]/);
    } finally {
      await gw.shutdown(0);
      await up.close();
    }
  });

  test('a stream still running at totalMs ends with event: error naming the total timeout', async () => {
    const up = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunkFrame({ role: 'assistant', content: 'Hel' }));
    });
    const gw = await gatewayFor(up.url, { totalMs: 300 });
    try {
      const r = await send(
        gw.url,
        '/v1/chat/completions',
        JSON.stringify({ ...JSON.parse(CHAT), stream: true }),
      );
      assert.ok('status' in r, JSON.stringify(r));
      assert.match(r.body, /event: error\ndata: .*total timeout was reached/);
      assert.doesNotMatch(r.body, /\[DONE\]/);
      assert.ok(await waitFor(() => up.closedEarly === 1), 'upstream call was not aborted');
    } finally {
      await gw.shutdown(0);
      await up.close();
    }
  });

  test('a stream that fails before its first output gets a plain 502 listing the attempt, never a 200', async () => {
    const up = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      setImmediate(() => res.socket?.destroy());
    });
    const gw = await gatewayFor(up.url);
    try {
      const r = await send(
        gw.url,
        '/v1/chat/completions',
        JSON.stringify({ ...JSON.parse(CHAT), stream: true }),
      );
      assert.ok('status' in r, JSON.stringify(r));
      assert.equal(r.status, 502);
      assert.equal(r.headers['x-switchyard-attempts'], '1');
      assert.match(JSON.parse(r.body).error.message, /up\/m: failed/);
    } finally {
      await gw.shutdown(0);
      await up.close();
    }
  });
});
