/**
 * The main thread's side of the SQLite request log's writing thread (sqlite-log-worker.ts says
 * why there is one). `write` hands a batch over and resolves once the worker has committed it, so
 * `insertRequests` keeps its meaning: resolved = durable, rejected = nothing of the batch written.
 *
 * The worker is started on the first write (CLI commands that only read or manage keys never pay
 * for a thread), holds the process open only while a batch is on its way, and is started again if
 * it ever dies. `close` waits for the batches in flight, then ends the thread.
 */
import { Worker } from 'node:worker_threads';
import type { RequestRecord } from '../telemetry/record.ts';
import { requestValues, type SqlValue } from './rows.ts';
import { rollUp } from './spend.ts';

export interface LogThreadSettings {
  path: string;
  busyTimeoutMs: number;
}

export type LogThreadMessage = { type: 'write'; id: number; batch: string } | { type: 'close' };
export type LogThreadReply = { id: number; ok: true } | { id: number; ok: false; message: string };

interface Pending {
  resolve: () => void;
  reject: (err: Error) => void;
}

// The worker is this folder's .ts under the test runner and .js once built.
const WORKER_URL = new URL(
  `./sqlite-log-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`,
  import.meta.url,
);

export class SqliteLogThread {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  /** Every write not yet answered: `close` waits for them. */
  private readonly inFlight = new Set<Promise<void>>();
  private nextId = 1;
  private closed = false;

  private readonly settings: LogThreadSettings;
  private readonly workerUrl: URL;

  /** `workerUrl` is for tests (a thread that dies); the gateway always runs sqlite-log-worker. */
  constructor(settings: LogThreadSettings, workerUrl: URL = WORKER_URL) {
    this.settings = settings;
    this.workerUrl = workerUrl;
  }

  /** Writes the records and their daily spend roll-up in one transaction on the writing thread. */
  write(records: readonly RequestRecord[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the request log is closed'));
    // Rows as SQLite binds them (booleans as 0/1), as one JSON text: the cheapest way across
    // threads measured (a string is copied once; structured clone walks every value).
    const rows = records.map((record) => requestValues(record).map(sqliteValue));
    const spend = rollUp(records).map((s) => [s.scope, s.day, s.usd, s.requests]);
    const id = this.nextId++;
    const worker = this.started();
    const written = new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({
        type: 'write',
        id,
        batch: JSON.stringify({ rows, spend }),
      } satisfies LogThreadMessage);
    });
    this.inFlight.add(written);
    const forget = () => this.inFlight.delete(written);
    written.then(forget, forget);
    return written;
  }

  /** Waits for the batches in flight (their promises settle as usual), then ends the thread. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled(this.inFlight);
    const worker = this.worker;
    if (!worker) return;
    const exited = new Promise<void>((done) => worker.once('exit', () => done()));
    // Held open until the thread has closed its connection (its last commit is then on disk).
    worker.ref();
    worker.postMessage({ type: 'close' } satisfies LogThreadMessage);
    await exited;
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    // None of the process's node flags: preloads (--import) and eval flags are the main thread's
    // business, and some (--input-type) make a worker refuse to start.
    const worker = new Worker(this.workerUrl, { workerData: this.settings, execArgv: [] });
    worker.unref();
    worker.on('message', (reply: LogThreadReply) => {
      const pending = this.pending.get(reply.id);
      if (!pending) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) worker.unref();
      if (reply.ok) pending.resolve();
      else pending.reject(new Error(reply.message));
    });
    // A thread that dies (it should not) fails what it held; the next write starts a new one.
    const fail = (err: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      for (const [id, pending] of this.pending) {
        this.pending.delete(id);
        pending.reject(err);
      }
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the request log's writing thread exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }
}

/** SQLite binds no booleans. */
export function sqliteValue(value: SqlValue): string | number | null {
  return typeof value === 'boolean' ? (value ? 1 : 0) : value;
}
