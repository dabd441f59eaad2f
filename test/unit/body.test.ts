/** Reading a request body: limits, trickling and silent bodies, a client that hangs up. */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { GatewayError } from '../../src/core/errors.ts';
import { readBody } from '../../src/server/body.ts';

let server: Server;
let port: number;
/** How the next request's body is read, and what came of it. */
let read: (req: IncomingMessage) => Promise<Buffer> = (req) => readBody(req, 1000, 5000);
let outcome: Promise<Buffer | GatewayError>;

before(async () => {
  server = createServer((req, res) => {
    outcome = read(req).then(
      (body) => body,
      (err: GatewayError) => err,
    );
    void outcome.then(() => res.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Sends the head of a POST with `length`, then `pieces` every `everyMs`; the socket stays open. */
async function post(length: number, pieces: string[], everyMs: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write(`POST / HTTP/1.1\r\nhost: x\r\ncontent-length: ${length}\r\n\r\n`);
  for (const piece of pieces) {
    await sleep(everyMs);
    socket.write(piece);
  }
  return socket;
}

async function result(): Promise<Buffer | GatewayError> {
  while (!outcome) await sleep(5);
  return outcome;
}

describe('readBody', () => {
  test('a body in several pieces, each within the idle limit, is read whole, however long it takes overall', async () => {
    read = (req) => readBody(req, 1000, 5000, 150);
    outcome = undefined as unknown as Promise<Buffer>;
    const socket = await post(10, ['01234', '5678', '9'], 100);
    const body = await result();
    socket.destroy();
    assert.ok(Buffer.isBuffer(body), String(body));
    assert.equal(body.toString(), '0123456789');
  });

  test('a body silent for longer than the idle limit is refused with 408, naming the limit', async () => {
    read = (req) => readBody(req, 1000, 5000, 150);
    outcome = undefined as unknown as Promise<Buffer>;
    const started = Date.now();
    const socket = await post(10, ['01234'], 0);
    const err = await result();
    socket.destroy();
    assert.ok(err instanceof GatewayError);
    assert.equal(err.status, 408);
    assert.match(err.message, /no bytes for 150 ms \(server\.bodyTimeoutMs\)/);
    assert.ok(Date.now() - started < 2000);
  });

  test('a body that trickles, never silent for long, is refused at the deadline', async () => {
    read = (req) => readBody(req, 1000, 400, 150);
    outcome = undefined as unknown as Promise<Buffer>;
    const socket = await post(100, [], 0);
    const trickle = setInterval(() => socket.write(' '), 50);
    const err = await result();
    clearInterval(trickle);
    socket.destroy();
    assert.ok(err instanceof GatewayError);
    assert.equal(err.status, 408);
    assert.match(err.message, /not complete within 400 ms/);
  });

  test('more than the limit is refused with 413; a client that hangs up mid-body is an invalid request', async () => {
    read = (req) => readBody(req, 8, 5000);
    outcome = undefined as unknown as Promise<Buffer>;
    const big = await post(20, ['0123456789', '0123456789'], 0);
    const tooLarge = await result();
    big.destroy();
    assert.ok(tooLarge instanceof GatewayError);
    assert.equal(tooLarge.code, 'body_too_large');

    read = (req) => readBody(req, 1000, 5000);
    outcome = undefined as unknown as Promise<Buffer>;
    const gone = await post(20, ['0123456789'], 0);
    await sleep(50);
    gone.destroy();
    const hungUp = await result();
    assert.ok(hungUp instanceof GatewayError);
    assert.equal(hungUp.code, 'invalid_request');
    assert.match(hungUp.message, /closed before the body was complete/);
  });
});
