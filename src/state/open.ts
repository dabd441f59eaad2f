/**
 * Opens the store a `storage:` setting names: `memory`, `sqlite:PATH` or `postgres://...`
 * (`postgresql://` too). Migrations run before it answers, so a store that opens is ready; one
 * that cannot be reached is a StoreUnavailableError naming the kind and the place (for
 * PostgreSQL `host:port/database`, never the URL with its credentials).
 */
import { resolve } from 'node:path';
import { DEFAULT_MEMORY_MAX_REQUESTS, MemoryStore } from './memory.ts';
import { DEFAULT_SQLITE_BUSY_TIMEOUT_MS, SqliteStore } from './sqlite.ts';
import { type Store, StoreUnavailableError } from './types.ts';

export interface OpenStoreOptions {
  /** PostgreSQL: most connections open at once (default 4). */
  poolSize?: number;
  /** PostgreSQL: give up on a connection attempt after this long (default 5000 ms). */
  connectTimeoutMs?: number;
  /** SQLite: how long a write waits for another process's lock on the file (default 5000 ms). */
  busyTimeoutMs?: number;
  /** memory: most request records kept, oldest forgotten first (default 10,000). */
  memoryMaxRequests?: number;
}

export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  if (url === 'memory') return new MemoryStore(options.memoryMaxRequests ?? DEFAULT_MEMORY_MAX_REQUESTS);
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (path.length === 0) throw new StoreUnavailableError('sqlite store: expected sqlite:PATH, got no path');
    return SqliteStore.open(resolve(path), options.busyTimeoutMs ?? DEFAULT_SQLITE_BUSY_TIMEOUT_MS);
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    // Loaded on demand: the driver costs start-up time that SQLite and memory users need not pay.
    const { PostgresStore } = await import('./postgres.ts');
    return PostgresStore.open(url, {
      ...(options.poolSize === undefined ? {} : { poolSize: options.poolSize }),
      ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
    });
  }
  // Never echo the setting: a mistyped PostgreSQL URL still holds its password.
  throw new StoreUnavailableError('storage: expected memory, sqlite:PATH or postgres://user@host:5432/db');
}
