import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/schema.ts';
import { GatewayError } from '../core/errors.ts';
import { buildRuntime, type Runtime, type RuntimeOptions } from '../gateway/runtime.ts';
import { configurationWarnings } from '../gateway/settings.ts';
import { RedisLimitStore } from '../limits/redis.ts';
import { openStore } from '../state/open.ts';
import { createLogger, type Logger } from '../telemetry/log.ts';
import { createRequestHandler } from './app.ts';
import { newExchange, sendError } from './exchange.ts';

/** How long requests stopped at the end of the grace period get to write their error. */
const STOP_WAIT_MS = 1000;

/** Routes that answer even when the gateway is at its in-flight limit: probes must see the truth. */
const ALWAYS_SERVED = new Set(['/healthz', '/readyz', '/metrics']);

export interface RunningGateway {
  url: string;
  host: string;
  port: number;
  runtime: Runtime;
  /**
   * SIGTERM's sequence: readiness fails at once; requests are still accepted and served for
   * `server.drainDelayMs` (a load balancer's endpoints lag the signal); then the listener closes
   * and in-flight requests get up to `graceMs` to finish.
   */
  shutdown(graceMs?: number): Promise<{ drained: boolean }>;
}

export interface ListenOptions extends RuntimeOptions {
  host?: string;
  port?: number;
}

export async function startGateway(config: Config, options: ListenOptions = {}): Promise<RunningGateway> {
  // A database that is down at start is a clear startup error (StoreUnavailableError), not a request-time one.
  const store = options.store ?? (await openStore(config.storage));
  const log = options.log ?? createLogger();
  const limitStore = options.limitStore ?? (config.redis ? await connectRedis(config.redis, log) : undefined);
  let inFlight = 0;
  const runtime = buildRuntime(config, {
    ...options,
    log,
    store,
    ...(limitStore ? { limitStore } : {}),
    inFlight: () => inFlight,
  });
  for (const note of configurationWarnings(config)) runtime.log.warn('configuration_warning', { note });
  let draining = false;
  let onIdle: (() => void) | undefined;
  const handler = createRequestHandler(runtime, { draining: () => draining });
  const { maxInFlight } = config.server;
  const server: Server = createServer(
    {
      // Node answers 431 itself for headers over this size.
      maxHeaderSize: 32 * 1024,
      // Headers must arrive within 30 s; the body within server.bodyTimeoutMs (see readBody).
      headersTimeout: 30_000,
      requestTimeout: 0,
      keepAliveTimeout: 65_000,
    },
    (req: IncomingMessage, res: ServerResponse) => {
      if (inFlight >= maxInFlight && !ALWAYS_SERVED.has(pathOf(req))) {
        sendError(
          newExchange(req, res),
          new GatewayError(
            'gateway_busy',
            `the gateway is at its limit of ${maxInFlight} requests in flight (server.maxInFlight); retry shortly`,
            {
              retryAfterMs: 1000,
              headers: { connection: 'close' },
            },
          ),
        );
        return;
      }
      inFlight++;
      res.once('close', () => {
        inFlight--;
        if (inFlight === 0) onIdle?.();
      });
      handler(req, res);
    },
  );
  const host = options.host ?? config.server.host;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? config.server.port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await runtime.close();
    throw err;
  }
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
      if (config.server.drainDelayMs > 0) await new Promise((r) => setTimeout(r, config.server.drainDelayMs));
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
      await runtime.close();
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

/**
 * The shared limit store. A Redis that is down at start does not stop the gateway: limits and
 * budgets fail closed until it comes back (the client reconnects by itself), and it is said loudly.
 */
async function connectRedis(url: string, log: Logger): Promise<RedisLimitStore> {
  let lastError = '';
  const store = new RedisLimitStore(url, {
    onError: (err) => {
      // ioredis repeats the same error at every reconnect attempt: log each change once.
      if (err.message === lastError) return;
      lastError = err.message;
      log.warn('redis_error', { message: err.message });
    },
  });
  try {
    await store.connect();
  } catch (err) {
    log.error('redis_unavailable_at_start', {
      message: `${(err as Error).message}; rate limits and budgets refuse requests until Redis is reachable`,
    });
  }
  return store;
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const queryAt = url.indexOf('?');
  return queryAt === -1 ? url : url.slice(0, queryAt);
}
