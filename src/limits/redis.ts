/**
 * Limits and budgets shared by every replica, in Redis. Each admission and settlement is atomic
 * across every window and budget of the request: one Lua script, which takes together the
 * admissions (or settlements) made while another call was on its way (redis-batch.ts). When
 * Redis cannot be reached, calls fail at once (no offline queue) so admission fails closed without
 * waiting, and the client reconnects by itself with backoff.
 */
import { Redis } from 'ioredis';
import { Batcher, KeyList } from './redis-batch.ts';
import { ADMIT, SEED, SETTLE, WINDOWS } from './redis-scripts.ts';
import type {
  AdmitRequest,
  AdmitResult,
  LimitStore,
  SettleRequest,
  SettleResult,
  WindowState,
} from './types.ts';

/** Shared state could not be read or written (Redis down or too slow). */
export class SharedStateUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SharedStateUnavailableError';
  }
}

type ScriptCall = (keys: string[], args: Array<string | number>) => Promise<unknown>;

function ttlArg(ttlMs: number): number {
  return Number.isFinite(ttlMs) ? Math.max(1, Math.round(ttlMs)) : -1;
}

/** One admission's reply from the ADMIT script, read back into an AdmitResult. */
function admitResult(request: AdmitRequest, reply: Array<string | number>): AdmitResult {
  const [verdict, ...rest] = reply;
  const states = (values: Array<string | number>): WindowState[] =>
    request.windows.map((_, i) => {
      const oldest = Number(values[2 * i + 1] ?? -1);
      return {
        used: Number(values[2 * i] ?? 0),
        freesAtMs: oldest < 0 ? request.nowMs : (oldest + 60) * 1000,
      };
    });
  switch (verdict) {
    case 'ok':
      return { ok: true, windows: states(rest) };
    case 'window':
      return { ok: false, refused: 'window', index: Number(rest[0]), windows: states(rest.slice(1)) };
    case 'budget':
      return {
        ok: false,
        refused: 'budget',
        index: Number(rest[0]),
        spentNano: Number(rest[1]),
        reservedNano: Number(rest[2]),
      };
    default:
      return { ok: false, refused: 'seed', index: Number(rest[0]) };
  }
}

/** At most this many admissions (or settlements) in one script call: one call must stay short. */
const MAX_BATCH = 64;

export interface RedisLimitOptions {
  /** Prefix of every key (default `sy:`): separate gateways, or tests, can share one Redis. */
  prefix?: string;
  /** A command that takes longer fails (and admission with it). */
  commandTimeoutMs?: number;
  onError?: (err: Error) => void;
}

export class RedisLimitStore implements LimitStore {
  readonly kind = 'redis';
  private readonly redis: Redis;
  private readonly admitScript: ScriptCall;
  private readonly settleScript: ScriptCall;
  private readonly seedScript: ScriptCall;
  private readonly windowsScript: ScriptCall;
  private readonly prefix: string;
  private readonly admissions = new Batcher(
    (requests: readonly AdmitRequest[]) => this.admitBatch(requests),
    MAX_BATCH,
  );
  private readonly settlements = new Batcher(
    (requests: readonly SettleRequest[]) => this.settleBatch(requests),
    MAX_BATCH,
  );

  constructor(url: string, options: RedisLimitOptions = {}) {
    this.prefix = options.prefix ?? 'sy:';
    this.redis = new Redis(url, {
      lazyConnect: true,
      // Fail at once while disconnected: a request must not wait for Redis to come back.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 2000,
      commandTimeout: options.commandTimeoutMs ?? 1000,
      enableAutoPipelining: true,
      retryStrategy: (times) => Math.min(100 * 2 ** times, 1000),
    });
    this.redis.on('error', (err: Error) => options.onError?.(err));
    const define = (name: string, lua: string): ScriptCall => {
      this.redis.defineCommand(name, { lua });
      const command = (
        this.redis as unknown as Record<string, (...args: Array<string | number>) => Promise<unknown>>
      )[name]!;
      return (keys, args) => command.call(this.redis, keys.length, ...keys, ...args);
    };
    this.admitScript = define('switchyardAdmit', ADMIT);
    this.settleScript = define('switchyardSettle', SETTLE);
    this.seedScript = define('switchyardSeed', SEED);
    this.windowsScript = define('switchyardWindows', WINDOWS);
  }

  private budgetKeys(scope: string, period: string): [string, string, string] {
    const base = `${this.prefix}b:${scope}:${period}`;
    return [base, `${base}:res`, `${base}:amt`];
  }

  private windowKey(name: string): string {
    return `${this.prefix}w:${name}`;
  }

  /** Connects; a Redis that is down now is reported, and the client keeps trying in the background. */
  async connect(): Promise<void> {
    try {
      await this.redis.connect();
    } catch (err) {
      throw new SharedStateUnavailableError(`redis: cannot connect (${(err as Error).message})`, {
        cause: err,
      });
    }
  }

  private async run<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      throw new SharedStateUnavailableError(`redis: ${what} failed (${(err as Error).message})`, {
        cause: err,
      });
    }
  }

  async admit(request: AdmitRequest): Promise<AdmitResult> {
    return this.admissions.call(request);
  }

  async settle(request: SettleRequest): Promise<SettleResult> {
    return this.settlements.call(request);
  }

  /** One ADMIT call for every admission of the batch; one reply each, in order. */
  private async admitBatch(requests: readonly AdmitRequest[]): Promise<AdmitResult[]> {
    const keys = new KeyList();
    const args: Array<string | number> = [requests.length];
    for (const request of requests) {
      args.push(request.id, request.nowMs, request.windows.length, request.budgets.length);
      for (const w of request.windows) {
        args.push(keys.add(this.windowKey(w.name)), w.limit ?? -1, Math.ceil(w.amount));
      }
      for (const b of request.budgets) {
        const at = keys.add(...this.budgetKeys(b.scope, b.period));
        args.push(at, b.limitNano ?? -1, b.amountNano, b.expiresAtMs, ttlArg(b.ttlMs));
      }
    }
    const replies = (await this.run('admission', () => this.admitScript(keys.keys, args))) as Array<
      Array<string | number>
    >;
    return requests.map((request, i) => admitResult(request, replies[i] ?? []));
  }

  /** One SETTLE call for every settlement of the batch; one reply each, in order. */
  private async settleBatch(requests: readonly SettleRequest[]): Promise<SettleResult[]> {
    const keys = new KeyList();
    const args: Array<string | number> = [requests.length];
    for (const request of requests) {
      args.push(request.id, request.windows.length, request.budgets.length);
      for (const w of request.windows) {
        args.push(keys.add(this.windowKey(w.name)), Math.floor(w.atMs / 1000), Math.round(w.delta));
      }
      for (const b of request.budgets) {
        args.push(keys.add(...this.budgetKeys(b.scope, b.period)), b.actualNano, ttlArg(b.ttlMs));
      }
    }
    const replies = (await this.run('settlement', () => this.settleScript(keys.keys, args))) as Array<
      Array<string | number>
    >;
    return replies.map((reply): SettleResult => {
      if (reply[0] === 'seed') return { ok: false, seedIndex: Number(reply[1]) };
      return { ok: true, spentNano: reply.map(Number) };
    });
  }

  async seed(scope: string, period: string, spentNano: number, ttlMs: number): Promise<void> {
    const [key] = this.budgetKeys(scope, period);
    await this.run('seeding', () => this.seedScript([key], [spentNano, ttlArg(ttlMs)]));
  }

  async budgets(items: ReadonlyArray<{ scope: string; period: string }>) {
    return this.run('budget read', () =>
      Promise.all(
        items.map(async ({ scope, period }) => {
          const [key] = this.budgetKeys(scope, period);
          const [spent, reserved] = await this.redis.hmget(key, 'spent', 'reserved');
          if (spent === null) return undefined;
          return { spentNano: Number(spent), reservedNano: Number(reserved ?? 0) };
        }),
      ),
    );
  }

  async windows(names: readonly string[], nowMs: number): Promise<WindowState[]> {
    if (names.length === 0) return [];
    const reply = (await this.run('window read', () =>
      this.windowsScript(
        names.map((n) => this.windowKey(n)),
        [nowMs],
      ),
    )) as Array<string | number>;
    return names.map((_, i) => {
      const oldest = Number(reply[2 * i + 1]);
      return { used: Number(reply[2 * i]), freesAtMs: oldest < 0 ? nowMs : (oldest + 60) * 1000 };
    });
  }

  async charge(items: ReadonlyArray<{ name: string; amount: number }>, nowMs: number): Promise<void> {
    const second = Math.floor(nowMs / 1000);
    await this.run('charge', async () => {
      const pipeline = this.redis.pipeline();
      for (const item of items) {
        pipeline.hincrby(this.windowKey(item.name), String(second), Math.ceil(item.amount));
        pipeline.pexpire(this.windowKey(item.name), 120_000);
      }
      await pipeline.exec();
    });
  }

  async once(key: string, ttlMs: number): Promise<boolean> {
    const reply = await this.run('flag', () =>
      this.redis.set(`${this.prefix}once:${key}`, '1', 'PX', ttlArg(ttlMs), 'NX'),
    );
    return reply === 'OK';
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
