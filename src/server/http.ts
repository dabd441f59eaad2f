import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/schema.ts';
import { buildRuntime, type Runtime } from '../gateway/runtime.ts';
import { createRequestHandler } from './app.ts';

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

  const shutdown = async (graceMs = config.server.shutdownGraceMs): Promise<{ drained: boolean }> => {
    draining = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const drained = await new Promise<boolean>((resolve) => {
      if (inFlight === 0) return resolve(true);
      const timer = setTimeout(() => resolve(false), graceMs);
      onIdle = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
    server.closeAllConnections();
    await closed;
    await runtime.transport.close();
    return { drained };
  };

  return {
    url: `http://${urlHost}:${address.port}`,
    host: address.address,
    port: address.port,
    runtime,
    shutdown,
  };
}
