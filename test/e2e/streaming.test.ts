import assert from 'node:assert/strict';
import { createServer, request, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { parseConfigText } from '../../src/config/index.ts';
import { type RunningGateway, startGateway } from '../../src/server/http.ts';

/**
 * A hand-made OpenAI-protocol upstream that streams as fast as its socket takes it, and records
 * how much it managed to write and whether its client (the gateway) went away. It is the probe
 * for backpressure and disconnect propagation, which the simulated clouds do not expose.
 */
interface Probe {
  server: Server;
  url: string;
  bytesWritten: number;
  closedEarly: boolean;
  finished: boolean;
}

/**
 * ~92 MB: far more than the loopback socket buffers of the two hops hold (they took up to 11.6 MB
 * under CI load), so a gateway that buffered the stream would stand out against the quarter bound.
 */
const CHUNKS = 80_000;
const PADDING = 'x'.repeat(1000);

function chunk(i: number): string {
  return `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: i === 0 ? { role: 'assistant', content: '' } : { content: `${PADDING}${i}` }, finish_reason: null }] })}\n\n`;
}

async function streamFast(res: ServerResponse, probe: Probe): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.on('close', () => {
    if (!res.writableFinished) probe.closedEarly = true;
  });
  for (let i = 0; i < CHUNKS; i++) {
    if (res.destroyed) return;
    const data = chunk(i);
    probe.bytesWritten += data.length;
    if (!res.write(data)) await new Promise((resolve) => res.once('drain', resolve).once('close', resolve));
  }
  res.end(
    `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\ndata: [DONE]\n\n`,
  );
  probe.finished = true;
}

async function startProbe(): Promise<Probe> {
  const probe = { bytesWritten: 0, closedEarly: false, finished: false } as Probe;
  probe.server = createServer((req, res) => {
    req.resume();
    req.on('end', () => void streamFast(res, probe));
  });
  await new Promise<void>((resolve) => probe.server.listen(0, '127.0.0.1', resolve));
  probe.url = `http://127.0.0.1:${(probe.server.address() as AddressInfo).port}`;
  return probe;
}

async function gatewayFor(probe: Probe): Promise<RunningGateway> {
  const config = parseConfigText(
    `
providers: [{ id: probe, type: openai-compatible, endpoint: ${probe.url}/v1 }]
models: [{ name: big, deployments: [{ provider: probe, model: m }] }]
keys: [{ name: app, key: sk-stream-test-01 }]
`,
    '/tmp/stream.yaml',
    {},
  );
  return startGateway(config, { port: 0, host: '127.0.0.1' });
}

/** Opens a streaming request and hands back the raw response without reading it. */
function openStream(gateway: RunningGateway) {
  return new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
    const req = request(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk-stream-test-01', 'content-type': 'application/json' },
    });
    req.on('response', resolve).on('error', reject);
    req.end(JSON.stringify({ model: 'big', stream: true, messages: [{ role: 'user', content: 'go' }] }));
  });
}

const waitFor = async (condition: () => boolean, what: string) => {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(condition(), `timed out waiting for ${what}`);
};

describe('streaming end to end', () => {
  let probe: Probe;
  let gateway: RunningGateway;
  before(async () => {
    probe = await startProbe();
    gateway = await gatewayFor(probe);
  });
  after(async () => {
    await gateway.shutdown(0);
    probe.server.closeAllConnections();
    await new Promise((r) => probe.server.close(r));
  });

  test('a slow client makes the gateway stop reading the upstream instead of buffering', async () => {
    const total = CHUNKS * (PADDING.length + 150);
    probe.bytesWritten = 0;
    const response = await openStream(gateway);
    response.pause();
    // Let the pipes fill up: with backpressure the upstream stalls once every buffer is full.
    let last = -1;
    for (let i = 0; i < 100 && probe.bytesWritten !== last; i++) {
      last = probe.bytesWritten;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(!probe.finished, 'the upstream must not finish while the client reads nothing');
    assert.ok(
      probe.bytesWritten < total / 4,
      `upstream wrote ${probe.bytesWritten} of ${total} bytes to a client that read nothing`,
    );
    // The client catches up and gets every chunk, in order, and the [DONE].
    let text = '';
    response.setEncoding('utf8');
    response.on('data', (d: string) => {
      text += d;
    });
    response.resume();
    await new Promise((r) => response.on('end', r));
    assert.ok(text.endsWith('data: [DONE]\n\n'));
    assert.ok(text.includes(`${PADDING}${CHUNKS - 1}`));
    assert.ok(probe.finished);
  });

  test('a client that disconnects aborts the upstream request', async () => {
    probe.closedEarly = false;
    probe.finished = false;
    const response = await openStream(gateway);
    await new Promise((r) => response.once('data', r));
    response.destroy();
    await waitFor(() => probe.closedEarly, 'the upstream connection to be closed');
    assert.ok(!probe.finished);
    await waitFor(
      () =>
        gateway.runtime.states.view(
          'probe/m',
          {
            failureThreshold: 5,
            failureRatePercent: 100,
            minimumRequests: 1000,
            windowMs: 30_000,
            cooldownMs: 1,
          },
          Date.now(),
        ).inFlight === 0,
      'in-flight to drop',
    );
    // A client leaving is not the upstream's fault.
    assert.equal(
      gateway.runtime.states.view(
        'probe/m',
        {
          failureThreshold: 1,
          failureRatePercent: 100,
          minimumRequests: 1000,
          windowMs: 30_000,
          cooldownMs: 1,
        },
        Date.now(),
      ).circuit,
      'closed',
    );
  });
});

describe('streaming socket writes', () => {
  test('events that arrive together, and the end, leave the gateway in one socket write', async () => {
    const events = Array.from({ length: 20 }, (_, i) => chunk(i + 1)).join('');
    const done = `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\ndata: [DONE]\n\n`;
    // The whole answer in one upstream write, as a fast cloud (or the simulated one) sends it.
    const upstream = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(chunk(0) + events + done);
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const probe = { url: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` } as Probe;
    const gateway = await gatewayFor(probe);
    // Count the socket flushes of the gateway's side of the client connection.
    const proto = Socket.prototype as unknown as Record<'_write' | '_writev', (...args: unknown[]) => void>;
    const original = { _write: proto._write, _writev: proto._writev };
    let flushes = 0;
    for (const name of ['_write', '_writev'] as const) {
      proto[name] = function (this: Socket, ...args: unknown[]) {
        if (this.localPort === gateway.port) flushes++;
        return original[name].apply(this, args);
      };
    }
    try {
      const response = await openStream(gateway);
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (d: string) => {
        text += d;
      });
      await new Promise((r) => response.on('end', r));
      assert.ok(text.endsWith('data: [DONE]\n\n'), text.slice(-300));
      assert.ok(text.includes(`${PADDING}20`));
      assert.equal(flushes, 1, 'headers, every event and the end should go out in one write');
    } finally {
      Object.assign(proto, original);
      await gateway.shutdown(0);
      upstream.closeAllConnections();
      await new Promise((r) => upstream.close(r));
    }
  });
});
