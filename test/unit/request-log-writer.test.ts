/** The request-log writer: batches by size and time, a bounded queue, retries, flush on shutdown. */
import assert from 'node:assert/strict';
import { afterEach, describe, it, mock } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { StoreUnavailableError } from '../../src/state/types.ts';
import type { RequestRecord } from '../../src/telemetry/record.ts';
import { RequestLogWriter, startRetention } from '../../src/telemetry/request-log-writer.ts';
import { makeRecord } from '../state/fixtures.ts';

/** A request log that records each batch, and fails the next `failuresLeft` writes. */
class FakeLog {
  readonly batches: string[][] = [];
  failuresLeft = 0;
  calls = 0;
  inFlight = 0;
  maxInFlight = 0;
  private readonly waiters: { done: () => boolean; resolve: () => void }[] = [];

  async insertRequests(records: readonly RequestRecord[]): Promise<void> {
    this.calls++;
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    await nextTurn(); // a real store answers later, never in the same turn
    this.inFlight--;
    try {
      if (this.failuresLeft > 0) {
        this.failuresLeft--;
        throw new StoreUnavailableError('postgres store at db:5432/switchyard: connect ECONNREFUSED');
      }
      this.batches.push(records.map((r) => r.id));
    } finally {
      for (const w of this.waiters.filter((w) => w.done())) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  }

  get written(): string[] {
    return this.batches.flat();
  }

  /**
   * Resolves once `done()` holds after a write, and the writer has seen that write's answer (a
   * turn later). The test runner's timeout bounds the wait.
   */
  async until(done: () => boolean): Promise<void> {
    if (!done()) await new Promise<void>((resolve) => this.waiters.push({ done, resolve }));
    await nextTurn();
  }
}

const records = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => makeRecord({ id: `r${from + i}` }));

function writer(log: FakeLog, options: Partial<ConstructorParameters<typeof RequestLogWriter>[1]> = {}) {
  const warnings: string[] = [];
  const w = new RequestLogWriter(log, {
    queueSize: 100,
    batchSize: 10,
    flushMs: 60_000,
    retryBaseMs: 1,
    retryMaxMs: 4,
    warn: (m) => warnings.push(m),
    ...options,
  });
  return { w, warnings };
}

afterEach(() => mock.timers.reset());

describe('RequestLogWriter', () => {
  it('writes a full batch on a later turn, never inside enqueue', async () => {
    const log = new FakeLog();
    const { w } = writer(log, { batchSize: 3 });
    for (const r of records(7)) assert.equal(w.enqueue(r), true);
    assert.equal(log.calls, 0, 'enqueue wrote synchronously');
    await log.until(() => log.written.length === 6);
    assert.deepEqual(log.batches, [
      ['r0', 'r1', 'r2'],
      ['r3', 'r4', 'r5'],
    ]);
    // The seventh waits for flushMs (a minute here), or for flush().
    assert.deepEqual(w.stats, { queued: 1, written: 6, dropped: 0, failedFlushes: 0 });
    await w.close();
    assert.deepEqual(log.batches.at(-1), ['r6']);
  });

  it('writes a partial batch once its oldest record has waited flushMs', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    const log = new FakeLog();
    const { w } = writer(log, { batchSize: 100, flushMs: 1000 });
    w.enqueue(makeRecord({ id: 'a' }));
    mock.timers.tick(500);
    w.enqueue(makeRecord({ id: 'b' }));
    mock.timers.tick(499);
    await nextTurn();
    assert.equal(log.calls, 0);
    mock.timers.tick(1);
    await log.until(() => log.batches.length === 1);
    assert.deepEqual(log.batches, [['a', 'b']]);
    assert.equal(w.stats.written, 2);
  });

  it('when the queue is full, drops and counts new records and warns at most once per 10 s', async () => {
    let now = 0;
    const log = new FakeLog();
    const { w, warnings } = writer(log, { queueSize: 5, batchSize: 100, now: () => now });
    const accepted = records(8).map((r) => w.enqueue(r));
    assert.deepEqual(accepted, [true, true, true, true, true, false, false, false]);
    assert.deepEqual(w.stats, { queued: 5, written: 0, dropped: 3, failedFlushes: 0 });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /queue full \(5 records\).*1 dropped so far/);
    now += 9_999;
    w.enqueue(makeRecord());
    assert.equal(warnings.length, 1);
    now += 1;
    w.enqueue(makeRecord());
    assert.equal(warnings.length, 2);
    assert.match(warnings[1] ?? '', /5 dropped so far\) \[3 similar warnings suppressed\]/);
    await w.close();
    assert.deepEqual(log.written, ['r0', 'r1', 'r2', 'r3', 'r4']);
  });

  it('keeps records through a database outage and writes each exactly once when it recovers', async () => {
    const log = new FakeLog();
    log.failuresLeft = 5;
    const { w, warnings } = writer(log, { queueSize: 10, batchSize: 4, flushMs: 5 });
    for (const r of records(10)) assert.equal(w.enqueue(r), true);
    // While the database is down the queue stays full: beyond the bound, records are dropped.
    for (const r of records(3, 10)) assert.equal(w.enqueue(r), false);
    await log.until(() => log.written.length === 10);
    assert.deepEqual(
      log.written,
      records(10).map((r) => r.id),
    );
    assert.deepEqual(w.stats, { queued: 0, written: 10, dropped: 3, failedFlushes: 5 });
    assert.equal(log.calls, 5 + 3);
    // One failure warning (the limiter holds back the rest), naming the store's error, no record data.
    const failures = warnings.filter((m) => m.includes('writing records failed'));
    assert.equal(failures.length, 1);
    assert.match(failures[0] ?? '', /ECONNREFUSED\); retrying in 1 ms, 10 records held/);
  });

  it('backs off exponentially between failed writes, up to retryMaxMs', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    const log = new FakeLog();
    log.failuresLeft = 4;
    const { w } = writer(log, { batchSize: 1, retryBaseMs: 100, retryMaxMs: 300 });
    w.enqueue(makeRecord({ id: 'x' }));
    const callsAfter = async (ms: number) => {
      mock.timers.tick(ms);
      for (let i = 0; i < 5; i++) await nextTurn();
      return log.calls;
    };
    assert.equal(await callsAfter(0), 1); // failure 1 → retry in 100
    assert.equal(await callsAfter(99), 1);
    assert.equal(await callsAfter(1), 2); // failure 2 → 200
    assert.equal(await callsAfter(199), 2);
    assert.equal(await callsAfter(1), 3); // failure 3 → 400, capped at 300
    assert.equal(await callsAfter(299), 3);
    assert.equal(await callsAfter(1), 4); // failure 4 → 300
    assert.equal(await callsAfter(300), 5); // succeeds
    assert.deepEqual(log.written, ['x']);
    assert.equal(w.stats.failedFlushes, 4);
  });

  it('flush() writes everything accepted, after waiting for a write in progress', async () => {
    const log = new FakeLog();
    const { w } = writer(log, { batchSize: 4 });
    for (const r of records(6)) w.enqueue(r);
    while (log.calls === 0) await nextTurn(); // the full batch has started
    assert.equal(w.stats.queued, 6);
    await w.flush();
    assert.deepEqual(log.batches, [
      ['r0', 'r1', 'r2', 'r3'],
      ['r4', 'r5'],
    ]);
    assert.deepEqual(w.stats, { queued: 0, written: 6, dropped: 0, failedFlushes: 0 });
    assert.equal(log.maxInFlight, 1, 'flush wrote beside the write in progress');
  });

  it('flush() rejects while the database is down and keeps the records for the next try', async () => {
    const log = new FakeLog();
    const { w } = writer(log, { batchSize: 100, retryBaseMs: 60_000, retryMaxMs: 60_000 });
    for (const r of records(3)) w.enqueue(r);
    log.failuresLeft = 1;
    await assert.rejects(w.flush(), StoreUnavailableError);
    assert.equal(w.stats.queued, 3);
    await w.close();
    assert.deepEqual(log.written, ['r0', 'r1', 'r2']);
    assert.deepEqual(w.stats, { queued: 0, written: 3, dropped: 0, failedFlushes: 1 });
  });

  it('close() refuses records that arrive after it, counting them as dropped', async () => {
    const log = new FakeLog();
    const { w, warnings } = writer(log);
    w.enqueue(makeRecord({ id: 'before' }));
    await w.close();
    assert.equal(w.enqueue(makeRecord({ id: 'after' })), false);
    assert.deepEqual(log.written, ['before']);
    assert.equal(w.stats.dropped, 1);
    assert.match(warnings.at(-1) ?? '', /writer closed/);
  });
});

describe('startRetention', () => {
  it('deletes records older than retentionDays soon after start and at every interval', async () => {
    mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    const cutoffs: number[] = [];
    const now = 1_000 * 86_400_000;
    const job = startRetention(
      {
        deleteRequestsBefore: async (ms) => {
          cutoffs.push(ms);
          return 0;
        },
      },
      30,
      3_600_000,
      { now: () => now },
    );
    mock.timers.tick(0);
    assert.deepEqual(cutoffs, [now - 30 * 86_400_000]);
    await nextTurn();
    mock.timers.tick(3_600_000);
    assert.equal(cutoffs.length, 2);
    job.stop();
    mock.timers.tick(10 * 3_600_000);
    assert.equal(cutoffs.length, 2);
  });

  it('reports a failed run through warn and answers runOnce with the count', async () => {
    const warnings: string[] = [];
    let fail = true;
    const job = startRetention(
      {
        deleteRequestsBefore: async () => {
          if (fail) throw new StoreUnavailableError('sqlite store at /x.db: database is locked');
          return 7;
        },
      },
      30,
      3_600_000,
      { warn: (m) => warnings.push(m) },
    );
    try {
      while (warnings.length === 0) await nextTurn();
      assert.deepEqual(warnings, ['request log retention: sqlite store at /x.db: database is locked']);
      fail = false;
      assert.equal(await job.runOnce(), 7);
    } finally {
      job.stop();
    }
  });
});
