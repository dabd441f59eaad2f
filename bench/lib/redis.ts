/**
 * The benchmark's own Redis chores: check that Redis answers before a run needs it, and delete the
 * keys a run wrote afterwards (every key of a run carries its unique run id, so nothing else is
 * touched).
 */

import { existsSync, readFileSync } from 'node:fs';
import { Redis } from 'ioredis';

export const DEFAULT_REDIS_URL = process.env.SWITCHYARD_BENCH_REDIS ?? 'redis://127.0.0.1:6379';

function client(url: string): Redis {
  return new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000 });
}

/** Undefined when Redis answers PING; otherwise why not. */
export async function redisProblem(url: string): Promise<string | undefined> {
  const redis = client(url);
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    redis.disconnect();
  }
}

/** Deletes every key matching the glob `pattern` (SCAN, not KEYS: Redis keeps serving meanwhile). */
export async function dropRedisKeys(url: string, pattern: string): Promise<number> {
  const redis = client(url);
  redis.on('error', () => {});
  let dropped = 0;
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length) dropped += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return dropped;
}

/** The Redis server's pid (INFO server), when it runs on this machine; undefined otherwise. */
export async function localRedisPid(url: string): Promise<number | undefined> {
  const redis = client(url);
  redis.on('error', () => {});
  try {
    await redis.connect();
    const info = await redis.info('server');
    const pid = Number(/^process_id:(\d+)/m.exec(info)?.[1]);
    // The same pid on this machine must be a Redis too (a remote Redis's pid means nothing here).
    const comm = `/proc/${pid}/comm`;
    return Number.isInteger(pid) && existsSync(comm) && readFileSync(comm, 'utf8').includes('redis')
      ? pid
      : undefined;
  } catch {
    return undefined;
  } finally {
    redis.disconnect();
  }
}
