/** The upstream transport (undici dispatch) against a real local HTTP server: every path of send(). */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { UpstreamError } from '../../src/providers/types.ts';
import { readErrorBody, type SendOptions, Transport } from '../../src/transport/http.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** One server for the file; each test installs its handler and reads what the server saw. */
let server: Server;
let base: string;
let handler: Handler = (_req, res) => res.end();
const sockets = new Set<Socket>();
const seen: Seen[] = [];
/** Responses the client left before they finished. */
let closedEarly = 0;

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => {
      body += d;
    });
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      res.on('close', () => {
        if (!res.writableFinished) closedEarly++;
      });
      handler(req, res);
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  for (const s of sockets) s.destroy();
  server.close();
});

function options(overrides: Partial<SendOptions> = {}): SendOptions {
  return {
    signal: new AbortController().signal,
    connectMs: 2000,
    headersMs: 5000,
    idleMs: 5000,
    ...overrides,
  };
}

async function failureOf(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof UpstreamError, `expected an UpstreamError, got ${String(err)}`);
    return err.failure;
  }
  assert.fail('expected the call to fail');
}

async function waitFor(check: () => boolean, ms = 3000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (check()) return true;
    await sleep(10);
  }
  return check();
}

/** Answers 200, writes `piece`, then cuts the connection `afterMs` later. */
function cutAfterWriting(piece: string, afterMs: number): Handler {
  return (_req, res) => {
    res.writeHead(200);
    res.write(piece);
    setTimeout(() => res.socket?.destroy(), afterMs);
  };
}

/** The reader's error when the upstream connection was cut: the network's failure, classified. */
function isConnectionFailure(err: unknown): boolean {
  return err instanceof UpstreamError && err.failure.kind === 'connection';
}

describe('Transport.send', () => {
  const transport = new Transport();
  after(() => transport.close());

  test('sends method, path with query, headers and body; returns status, lower-cased headers and the body', async () => {
    seen.length = 0;
    handler = (_req, res) => {
      res.writeHead(201, { 'X-Answer': 'yes', 'content-type': 'application/json' });
      res.end('{"ok":true}');
    };
    const response = await transport.send(
      {
        method: 'POST',
        url: `${base}/v1/chat?api-version=2024-10-21`,
        headers: { 'api-key': 'k', 'content-type': 'application/json' },
        body: '{"q":1}',
      },
      options(),
    );
    assert.equal(response.status, 201);
    assert.equal(response.headers['x-answer'], 'yes');
    assert.equal(await response.body.text(), '{"ok":true}');
    assert.deepEqual(
      { method: seen[0]?.method, url: seen[0]?.url, key: seen[0]?.headers['api-key'], body: seen[0]?.body },
      { method: 'POST', url: '/v1/chat?api-version=2024-10-21', key: 'k', body: '{"q":1}' },
    );
  });

  test('an unread body holds the upstream back (backpressure), then every byte arrives', async () => {
    const piece = Buffer.alloc(64 * 1024, 0x61);
    const total = 1024; // 64 MiB, far more than the socket buffers hold
    let written = 0;
    handler = (_req, res) => {
      res.writeHead(200);
      const pump = () => {
        while (written < total) {
          written++;
          if (!res.write(piece)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    };
    const response = await transport.send({ method: 'GET', url: `${base}/big`, headers: {} }, options());
    await sleep(300);
    assert.ok(written < total / 2, `the upstream wrote ${written} of ${total} pieces while nothing was read`);
    let bytes = 0;
    for await (const chunk of response.body) bytes += (chunk as Buffer).length;
    assert.equal(bytes, piece.length * total);
  });

  test('destroying the body before its end aborts the upstream response', async () => {
    closedEarly = 0;
    handler = (_req, res) => {
      res.writeHead(200);
      res.write('first piece');
      // never ends
    };
    const response = await transport.send({ method: 'GET', url: `${base}/open`, headers: {} }, options());
    const iterator = response.body[Symbol.asyncIterator]();
    const first = await iterator.next();
    assert.equal(String(first.value), 'first piece');
    response.body.destroy();
    assert.ok(await waitFor(() => closedEarly === 1), 'the upstream response was not closed');
  });

  test('leaving a for-await over the body early aborts the upstream response', async () => {
    closedEarly = 0;
    handler = (_req, res) => {
      res.writeHead(200);
      res.write('first piece');
    };
    const response = await transport.send({ method: 'GET', url: `${base}/open`, headers: {} }, options());
    for await (const chunk of response.body) {
      assert.equal(Buffer.from(chunk).toString(), 'first piece');
      break;
    }
    assert.ok(await waitFor(() => closedEarly === 1), 'the upstream response was not closed');
  });

  test('a body read to its end is not aborted by a later destroy, and reads as done after it', async () => {
    closedEarly = 0;
    handler = (_req, res) => res.end('all of it');
    const response = await transport.send({ method: 'GET', url: `${base}/whole`, headers: {} }, options());
    assert.equal(await response.body.text(), 'all of it');
    response.body.destroy();
    assert.deepEqual(await response.body[Symbol.asyncIterator]().next(), { value: undefined, done: true });
    await sleep(50);
    assert.equal(closedEarly, 0);
  });

  test('onSettled is called once when the exchange is over: received to its end, aborted, or never sent', async () => {
    handler = (_req, res) => res.end('all of it');
    let settled = 0;
    const onSettled = () => settled++;
    const whole = await transport.send(
      { method: 'GET', url: `${base}/whole`, headers: {} },
      options({ onSettled }),
    );
    assert.equal(await whole.body.text(), 'all of it');
    assert.equal(settled, 1);
    whole.body.destroy();
    assert.equal(settled, 1, 'once');

    settled = 0;
    handler = (_req, res) => {
      res.writeHead(200);
      res.write('first piece');
    };
    const open = await transport.send(
      { method: 'GET', url: `${base}/open`, headers: {} },
      options({ onSettled }),
    );
    open.body.destroy();
    assert.ok(await waitFor(() => settled === 1), 'an aborted exchange is over too');

    settled = 0;
    const stopped = new AbortController();
    stopped.abort();
    await assert.rejects(
      transport.send(
        { method: 'GET', url: `${base}/whole`, headers: {} },
        options({ signal: stopped.signal, onSettled }),
      ),
    );
    assert.equal(settled, 1, 'a call never sent is over at once');
  });

  test('readErrorBody reads at most 64 KiB of a huge error body and lets go of the rest', async () => {
    closedEarly = 0;
    handler = (_req, res) => {
      res.writeHead(500);
      const chunk = 'x'.repeat(16 * 1024);
      const pump = () => {
        while (res.write(chunk)) {}
        res.once('drain', pump);
      };
      pump();
    };
    const response = await transport.send({ method: 'GET', url: `${base}/err`, headers: {} }, options());
    const text = await readErrorBody(response.body);
    assert.equal(text.length, 64 * 1024);
    assert.ok(await waitFor(() => closedEarly === 1), 'the endless error body was not abandoned');
  });

  test('an abort before the response headers rejects as aborted and closes the upstream request', async () => {
    closedEarly = 0;
    handler = () => {}; // never answers
    const controller = new AbortController();
    const pending = transport.send(
      { method: 'GET', url: `${base}/hang`, headers: {} },
      options({ signal: controller.signal }),
    );
    await waitFor(() => seen.some((s) => s.url === '/hang'));
    controller.abort();
    const failure = await failureOf(pending);
    assert.equal(failure.kind, 'timeout');
    assert.equal(failure.message, 'aborted');
    assert.ok(await waitFor(() => closedEarly === 1), 'the upstream request was not closed');
  });

  test('an abort mid-body fails the reader and closes the upstream response', async () => {
    closedEarly = 0;
    handler = (_req, res) => {
      res.writeHead(200);
      res.write('part');
    };
    const controller = new AbortController();
    const response = await transport.send(
      { method: 'GET', url: `${base}/part`, headers: {} },
      options({ signal: controller.signal }),
    );
    const iterator = response.body[Symbol.asyncIterator]();
    await iterator.next();
    controller.abort();
    // Readers get the failure already classified: the network's or the cloud's, never a bare error.
    await assert.rejects(
      iterator.next(),
      (err: unknown) => err instanceof UpstreamError && err.message === 'aborted',
    );
    assert.ok(await waitFor(() => closedEarly === 1), 'the upstream response was not closed');
  });

  test('an already aborted signal rejects without sending anything', async () => {
    seen.length = 0;
    const controller = new AbortController();
    controller.abort();
    const failure = await failureOf(
      transport.send(
        { method: 'GET', url: `${base}/never`, headers: {} },
        options({ signal: controller.signal }),
      ),
    );
    assert.equal(failure.message, 'aborted');
    await sleep(50);
    assert.equal(seen.length, 0);
  });

  test('no headers within headersMs is a first-byte timeout', async () => {
    handler = () => {};
    const failure = await failureOf(
      transport.send({ method: 'GET', url: `${base}/slow`, headers: {} }, options({ headersMs: 100 })),
    );
    assert.equal(failure.kind, 'timeout');
    assert.match(failure.message, /no response headers/);
  });

  test('a body silent for longer than idleMs fails its reader with the idle timeout', async () => {
    handler = (_req, res) => {
      res.writeHead(200);
      res.write('a');
    };
    const response = await transport.send(
      { method: 'GET', url: `${base}/idle`, headers: {} },
      options({ idleMs: 150 }),
    );
    await assert.rejects(response.body.text(), (err: unknown) => {
      return (
        err instanceof UpstreamError && err.failure.kind === 'timeout' && /idle timeout/.test(err.message)
      );
    });
  });

  test('a connection cut mid-body fails the reader, and does not crash the process while nobody reads', async () => {
    handler = cutAfterWriting('half', 20);
    const response = await transport.send({ method: 'GET', url: `${base}/cut`, headers: {} }, options());
    // Nobody reads while the error happens: an unheard 'error' event would end the test process.
    await sleep(150);
    assert.ok(response.body.destroyed, 'the body should have failed');
    await assert.rejects(response.body.text(), isConnectionFailure);
  });

  test('what arrived before a connection cut is read before the failure', async () => {
    handler = cutAfterWriting('data: first\n\n', 20);
    const response = await transport.send(
      { method: 'GET', url: `${base}/cut-after`, headers: {} },
      options(),
    );
    // The cut happens while the first piece waits unread: the reader still gets it, then the error.
    await sleep(150);
    const iterator = response.body[Symbol.asyncIterator]();
    const first = await iterator.next();
    assert.equal(String(first.value), 'data: first\n\n');
    await assert.rejects(iterator.next(), isConnectionFailure);
  });

  test('text() joins a body sent in many writes, a character split across two of them included', async () => {
    const euro = Buffer.from('€', 'utf8');
    handler = (_req, res) => {
      res.writeHead(200);
      res.write('a'.repeat(70_000));
      res.write(euro.subarray(0, 1));
      setTimeout(() => {
        res.write(euro.subarray(1));
        res.end('z');
      }, 20);
    };
    const response = await transport.send({ method: 'GET', url: `${base}/chunks`, headers: {} }, options());
    const text = await response.body.text();
    assert.equal(text.length, 70_002);
    assert.equal(text.slice(-2), '€z');
  });

  test('text() rejects when the connection is cut while it reads', async () => {
    handler = cutAfterWriting('half', 50);
    const response = await transport.send(
      { method: 'GET', url: `${base}/cut-reading`, headers: {} },
      options(),
    );
    await assert.rejects(response.body.text(), isConnectionFailure);
  });

  test('one URL sent to twice, then another on the same origin: each call reaches its own path', async () => {
    seen.length = 0;
    handler = (_req, res) => res.end('ok');
    for (const path of ['/a?x=1', '/a?x=1', '/b']) {
      const response = await transport.send({ method: 'GET', url: `${base}${path}`, headers: {} }, options());
      await response.body.text();
    }
    assert.deepEqual(
      seen.map((s) => s.url),
      ['/a?x=1', '/a?x=1', '/b'],
    );
  });

  test('a refused connection is a connection failure', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    closed.close();
    await once(closed, 'close');
    const failure = await failureOf(
      transport.send({ method: 'GET', url: `http://127.0.0.1:${port}/`, headers: {} }, options()),
    );
    assert.deepEqual([failure.kind, failure.message], ['connection', 'connection refused']);
  });
});
