/**
 * How long one request-log batch holds the gateway's event loop on SQLite, in one process, no
 * network:
 *
 *   node bench/request-log.ts [--batches 40] [--sizes 100,500]
 *
 * `node:sqlite` is synchronous, so `SqliteStore.insertRequests` hands its batch (one INSERT per
 * record plus the daily spend roll-up, in one transaction) to a writing thread of its own
 * (src/state/sqlite-log-worker.ts): the gateway's thread pays only for turning the records into
 * rows and passing them over. The request log writes a batch when `batchSize` (default 500)
 * records wait or the oldest has waited `flushMs` (default 50 ms). This prints, per batch size,
 * the time the calling thread is held (the event-loop block: median and max), the time until the
 * batch is committed, and per record, on a throwaway database file.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openStore } from '../src/state/open.ts';
import type { RequestRecord } from '../src/telemetry/record.ts';
import { median } from './lib/rounds.ts';
import { fixed, table } from './lib/table.ts';

const { values } = parseArgs({
  options: { batches: { type: 'string', default: '40' }, sizes: { type: 'string', default: '100,500' } },
});
const batches = Number(values.batches);
const sizes = values.sizes.split(',').map(Number);
if (!Number.isInteger(batches) || batches < 1 || sizes.some((s) => !Number.isInteger(s) || s < 1)) {
  process.stderr.write('usage: node bench/request-log.ts [--batches N] [--sizes 100,500]\n');
  process.exit(2);
}

/** What the governed benchmark gateway records for one served request. */
function record(i: number): RequestRecord {
  return {
    id: `req_${i.toString(16).padStart(32, '0')}`,
    startedAtMs: Date.now(),
    operation: 'chat',
    keyId: 'static:bench',
    keyName: 'bench',
    team: null,
    model: 'bench-model',
    stream: i % 2 === 0,
    status: 200,
    errorCode: null,
    provider: 'upstream',
    deployment: 'm',
    latencyMs: 3,
    ttftMs: 2,
    inputTokens: 23,
    outputTokens: 21,
    cachedTokens: null,
    cacheWriteTokens: null,
    reasoningTokens: null,
    costUsd: null,
    boundary: 'regions=us-*; providers=upstream; tags=zdr',
    capacity: null,
    attempts: [
      {
        provider: 'upstream',
        deployment: 'm',
        outcome: 'ok',
        status: 200,
        latencyMs: 3,
        reason: 'chosen: priority 1',
      },
    ],
  };
}

const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-log-'));
const rows: string[][] = [];
try {
  const store = await openStore(`sqlite:${join(dir, 'log.db')}`);
  let n = 0;
  for (const size of sizes) {
    const held: number[] = [];
    const committed: number[] = [];
    // The first batches warm the statements, the JIT, the thread and the file: not counted.
    for (let b = -3; b < batches; b++) {
      const batch = Array.from({ length: size }, () => record(n++));
      const start = process.hrtime.bigint();
      const written = store.insertRequests(batch);
      const heldMs = Number(process.hrtime.bigint() - start) / 1e6;
      await written;
      const committedMs = Number(process.hrtime.bigint() - start) / 1e6;
      if (b >= 0) {
        held.push(heldMs);
        committed.push(committedMs);
      }
    }
    const med = median(held);
    const medCommitted = median(committed);
    rows.push([
      String(size),
      fixed(med, 2),
      fixed(Math.max(...held), 2),
      fixed((med * 1000) / size, 1),
      fixed(medCommitted, 2),
      fixed((1000 * size) / medCommitted, 0),
    ]);
  }
  await store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(
  `SqliteStore.insertRequests, ${batches} batches per size (node ${process.version}): the calling thread is held for the hand-over, the writing thread commits\n`,
);
process.stdout.write(
  `${table(['records per batch', 'thread held, ms (median)', 'max', 'µs per record', 'committed after, ms (median)', 'records/s if back to back'], rows)}\n`,
);
