/**
 * Writes request records to the store in batches, off the request path.
 *
 * `enqueue` only appends to a bounded queue and never waits: the queue is written when it holds
 * `batchSize` records or when its oldest record has waited `flushMs`. When the queue is full the
 * new record is dropped and counted (the request itself is unaffected), with a warning at most
 * once per 10 s. A failed write (database down) keeps its records at the front of the queue and
 * is retried with exponential backoff; records that arrive meanwhile fill the queue up to its
 * bound, then are dropped. So memory stays bounded whatever the database does, and nothing that
 * was accepted is lost while the database comes back in time.
 *
 * The records of a batch being written still count against the bound: the queue holds at most
 * `queueSize` records in all.
 */
import type { RequestLog } from '../state/types.ts';
import type { RequestRecord } from './record.ts';

export interface RequestLogWriterOptions {
  /** Most records held (waiting plus being written); beyond it new records are dropped. */
  queueSize: number;
  /** A batch is written once this many records wait; also the most records one write carries. */
  batchSize: number;
  /** ... or once the oldest waiting record has waited this long. */
  flushMs: number;
  /** Where warnings go (queue full, write failed); each kind at most once per `warnIntervalMs`. */
  warn: (message: string) => void;
  /** First retry delay after a failed write (default 500 ms); doubles per failure ... */
  retryBaseMs?: number;
  /** ... up to this (default 30 s). */
  retryMaxMs?: number;
  /** Default 10 s. */
  warnIntervalMs?: number;
  /** The clock the warning limiter reads (tests pass their own). */
  now?: () => number;
}

export interface RequestLogStats {
  /** Records held: waiting or being written. */
  queued: number;
  /** Records the store acknowledged. */
  written: number;
  /** Records refused because the queue was full or the writer closed. */
  dropped: number;
  /** Writes that failed (each retry that fails counts again). */
  failedFlushes: number;
}

export class RequestLogWriter {
  private readonly log: Pick<RequestLog, 'insertRequests'>;
  private readonly options: Required<RequestLogWriterOptions>;
  private waiting: RequestRecord[] = [];
  private writingCount = 0;
  /** The write in progress; it never rejects (its failure schedules a retry). */
  private writing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** A retry is scheduled: a full batch does not jump the backoff. */
  private backingOff = false;
  /** Calls of `flush()` or `close()` in progress: while any runs, background writes stand aside. */
  private drainers = 0;
  private closed = false;
  private consecutiveFailures = 0;
  private written = 0;
  private dropped = 0;
  private failedFlushes = 0;
  private readonly dropWarning: WarningLimiter;
  private readonly failureWarning: WarningLimiter;

  constructor(log: Pick<RequestLog, 'insertRequests'>, options: RequestLogWriterOptions) {
    this.log = log;
    this.options = {
      retryBaseMs: 500,
      retryMaxMs: 30_000,
      warnIntervalMs: 10_000,
      now: Date.now,
      ...options,
    };
    this.dropWarning = new WarningLimiter(this.options);
    this.failureWarning = new WarningLimiter(this.options);
  }

  /** Accepts the record for writing (true), or drops and counts it (false). Never blocks. */
  enqueue(record: RequestRecord): boolean {
    if (this.closed || this.waiting.length + this.writingCount >= this.options.queueSize) {
      this.dropped++;
      this.dropWarning.warn(
        this.closed
          ? `request log: writer closed, record ${record.id} dropped (${this.dropped} dropped so far)`
          : `request log: queue full (${this.options.queueSize} records), new records are dropped ` +
              `(${this.dropped} dropped so far)`,
      );
      return false;
    }
    this.waiting.push(record);
    this.schedule();
    return true;
  }

  get stats(): RequestLogStats {
    return {
      queued: this.waiting.length + this.writingCount,
      written: this.written,
      dropped: this.dropped,
      failedFlushes: this.failedFlushes,
    };
  }

  /**
   * Writes every record accepted so far. Rejects with the store's error if a write fails; the
   * records stay queued and background retries resume (unless the writer is closed).
   */
  async flush(): Promise<void> {
    this.drainers++;
    this.clearTimer();
    try {
      for (;;) {
        if (this.writing) {
          await this.writing;
          this.clearTimer();
          continue;
        }
        if (this.waiting.length === 0) return;
        const write = this.writeBatch();
        this.writing = write.then(
          () => {},
          () => {},
        );
        try {
          await write;
        } finally {
          this.writing = undefined;
        }
      }
    } finally {
      this.drainers--;
      if (!this.closed) this.schedule();
    }
  }

  /** Refuses new records and writes the accepted ones (see `flush`). Used on SIGTERM. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  /** Decides the next background write after anything changed. */
  private schedule(): void {
    if (this.writing || this.drainers > 0 || this.backingOff || this.waiting.length === 0) return;
    if (this.waiting.length >= this.options.batchSize) {
      // A full batch goes at once, but on a later turn: the caller (a request finishing) must not
      // pay for the write, and the SQLite driver is synchronous.
      this.clearTimer();
      this.setTimer(0);
    } else if (!this.timer) {
      this.setTimer(this.options.flushMs);
    }
  }

  private setTimer(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.backingOff = false;
      this.startBackgroundWrite();
    }, delayMs);
    // Pending records never keep a process alive: shutdown goes through close().
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.backingOff = false;
  }

  private startBackgroundWrite(): void {
    if (this.writing || this.drainers > 0 || this.waiting.length === 0) return;
    this.writing = this.writeBatch().then(
      () => {
        this.writing = undefined;
        this.schedule();
      },
      (err: unknown) => {
        this.writing = undefined;
        if (this.drainers > 0 || this.closed) return;
        const delay = Math.min(
          this.options.retryBaseMs * 2 ** (this.consecutiveFailures - 1),
          this.options.retryMaxMs,
        );
        this.failureWarning.warn(
          `request log: writing records failed (${err instanceof Error ? err.message : String(err)}); ` +
            `retrying in ${delay} ms, ${this.stats.queued} records held, ${this.dropped} dropped so far`,
        );
        this.clearTimer();
        this.setTimer(delay);
        this.backingOff = true;
      },
    );
  }

  /** Takes the oldest batch and writes it; on failure puts it back at the front and rethrows. */
  private async writeBatch(): Promise<void> {
    const batch = this.waiting.splice(0, this.options.batchSize);
    this.writingCount = batch.length;
    try {
      await this.log.insertRequests(batch);
      this.written += batch.length;
      this.consecutiveFailures = 0;
    } catch (err) {
      this.waiting = batch.concat(this.waiting);
      this.failedFlushes++;
      this.consecutiveFailures++;
      throw err;
    } finally {
      this.writingCount = 0;
    }
  }
}

/** At most one warning per interval; the next one says how many were held back. */
class WarningLimiter {
  private lastAtMs = Number.NEGATIVE_INFINITY;
  private suppressed = 0;
  private readonly options: Required<Pick<RequestLogWriterOptions, 'warn' | 'warnIntervalMs' | 'now'>>;

  constructor(options: Required<Pick<RequestLogWriterOptions, 'warn' | 'warnIntervalMs' | 'now'>>) {
    this.options = options;
  }

  warn(message: string): void {
    const now = this.options.now();
    if (now - this.lastAtMs < this.options.warnIntervalMs) {
      this.suppressed++;
      return;
    }
    this.lastAtMs = now;
    const note = this.suppressed > 0 ? ` [${this.suppressed} similar warnings suppressed]` : '';
    this.suppressed = 0;
    this.options.warn(`${message}${note}`);
  }
}

export interface RetentionJob {
  /** Deletes the expired records now; answers how many. */
  runOnce(): Promise<number>;
  stop(): void;
}

/**
 * Deletes request records older than `retentionDays`, soon after start and then every
 * `intervalMs`. The timer is unref'd (it never keeps the process alive); a failed run is
 * reported through `warn` and tried again at the next interval.
 */
export function startRetention(
  log: Pick<RequestLog, 'deleteRequestsBefore'>,
  retentionDays: number,
  intervalMs: number,
  options: { warn?: (message: string) => void; now?: () => number } = {},
): RetentionJob {
  const now = options.now ?? Date.now;
  let running: Promise<number> | undefined;
  const runOnce = () => {
    running ??= log.deleteRequestsBefore(now() - retentionDays * 86_400_000).finally(() => {
      running = undefined;
    });
    return running;
  };
  const runInBackground = () => {
    runOnce().catch((err: unknown) => {
      options.warn?.(`request log retention: ${err instanceof Error ? err.message : String(err)}`);
    });
  };
  const first = setTimeout(runInBackground, 0);
  const every = setInterval(runInBackground, intervalMs);
  first.unref();
  every.unref();
  return {
    runOnce,
    stop() {
      clearTimeout(first);
      clearInterval(every);
    },
  };
}
