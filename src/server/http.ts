import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/schema.ts';
import { buildRuntime, type Runtime } from '../gateway/runtime.ts';
import { createRequestHandler } from './app.ts';

/** How long requests stopped at the end of the grace period get to write their error. */
const STOP_WAIT_MS = 1000;

export interface RunningGateway {
  url: string;
  host: string;
  port: number;
  runtime: Runtime;
  /** Stops accepting, lets in-flight requests finish for up to `graceMs`, then closes the rest. */
  shutdown(graceMs?: number): Promise<{ drained: boolean }>;
}

export interface ListenOptions {
  host?: string;
  port?: number;
}

export async function startGateway(config: Config, options: ListenOptions = {}): Promise<RunningGateway> {
  const runtime = buildRuntime(config);
  let draining = false;
  let inFlight = 0;
  let onIdle: (() => void) | undefined;
  const handler = createRequestHandler(runtime, { draining: () => draining });
  const server: Server = createServer(
    {
      // Node answers 431 itself for headers over this size.
      maxHeaderSize: 32 * 1024,
      // A client that trickles its headers or body cannot hold a connection forever.
      headersTimeout: 30_000,
      requestTimeout: 0,
      keepAliveTimeout: 65_000,
    },
    (req, res) => {
      inFlight++;
      res.once('close', () => {
        inFlight--;
        if (inFlight === 0) onIdle?.();
      });
      handler(req, res);
    },
  );
  const host = options.host ?? config.server.host;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? config.server.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  /** Resolves once nothing is in flight, or after `ms`; answers whether it drained. */
  const idle = (ms: number) =>
    new Promise<boolean>((resolve) => {
      if (inFlight === 0) return resolve(true);
      const timer = setTimeout(() => resolve(false), ms);
      onIdle = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });

  let stopped: Promise<{ drained: boolean }> | undefined;
  const shutdown = (graceMs = config.server.shutdownGraceMs): Promise<{ drained: boolean }> => {
    stopped ??= (async () => {
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const drained = await idle(graceMs);
      if (!drained) {
        // Grace is over: what still runs ends with an error its client can see (an SSE error event,
        // or a 503), never a silent cut; then the stragglers' sockets are closed.
        runtime.stop();
        await idle(STOP_WAIT_MS);
      }
      server.closeAllConnections();
      await closed;
      await runtime.transport.close();
      return { drained };
    })();
    return stopped;
  };

  return {
    url: `http://${urlHost}:${address.port}`,
    host: address.address,
    port: address.port,
    runtime,
    shutdown,
  };
}
