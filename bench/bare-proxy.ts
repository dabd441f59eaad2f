/**
 * Benchmark child: the baseline the gateway is compared with. A bare pass-through reverse proxy:
 * node:http in, undici (dispatch) out over a keep-alive pool, no parsing of anything, bodies streamed both
 * ways. It forwards method, path, headers (minus hop-by-hop ones) and body to the upstream and
 * streams the answer back. This is about the cheapest proxy one can write in Node, so "gateway /
 * bare proxy" is the cost of everything Switchyard does beyond moving bytes.
 *
 *   node bench/bare-proxy.ts --upstream http://127.0.0.1:PORT
 *
 * Prints `listening on URL` once it accepts requests; SIGTERM or SIGINT closes it.
 */

import { createServer, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values } = parseArgs({ options: { upstream: { type: 'string' } } });
if (!values.upstream) {
  process.stderr.write('bare-proxy: --upstream URL is required\n');
  process.exit(2);
}
const upstream = new URL(values.upstream);

/** Per RFC 9110 §7.6.1 these describe one connection, not the message; undici refuses some. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'expect',
  'host',
]);

// The same keep-alive settings the gateway's transport uses (src/transport/http.ts).
const pool = new Pool(upstream.origin, { keepAliveTimeout: 30_000, keepAliveMaxTimeout: 120_000 });

function responseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, (req, res) => {
  const raw = req.rawHeaders;
  const headers: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (!HOP_BY_HOP.has(name.toLowerCase())) headers.push(name, raw[i + 1]!);
  }
  const hasBody =
    req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  const fail = (err: unknown) => {
    if (!res.headersSent) {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`bare-proxy: upstream failed: ${err instanceof Error ? err.message : String(err)}\n`);
    } else {
      res.destroy();
    }
  };
  // undici's dispatch API, the cheapest way through undici: its request()/stream() layer costs
  // long young-generation GC pauses (see src/transport/http.ts), which a baseline must not carry.
  pool.dispatch(
    { path: req.url ?? '/', method: req.method as 'POST', headers, body: hasBody ? req : null },
    {
      onRequestStart: (controller) => {
        res.on('drain', () => controller.resume());
        res.on('close', () => {
          if (!res.writableFinished) controller.abort(new Error('client went away'));
        });
      },
      onResponseStart: (_controller, statusCode, upstreamHeaders) => {
        res.writeHead(statusCode, responseHeaders(upstreamHeaders));
      },
      onResponseData: (controller, chunk) => {
        if (!res.write(chunk)) controller.pause();
      },
      onResponseEnd: () => res.end(),
      onResponseError: (_controller, err) => fail(err),
    },
  );
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`listening on http://127.0.0.1:${port}\n`);
});

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  server.close();
  server.closeAllConnections();
  void pool.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
