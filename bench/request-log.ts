/**
 * How long one request-log batch holds the gateway's event loop on SQLite, in one process, no
 * network:
 *
 *   node bench/request-log.ts [--batches 40] [--sizes 100,500]
 *
 * `node:sqlite` is synchronous: `SqliteStore.insertRequests` runs its whole batch (one INSERT per
 * record plus the daily spend roll-up, in one transaction) on the gateway's only thread, so every
 * request that arrives meanwhile waits for it. The request log writes a batch when `batchSize`
 * (default 500) records wait or the oldest has waited `flushMs` (default 1 s): at 1,000 req/s,
 * about one batch of 500 every half second. This prints each batch size's time per batch
 * (median and max: the event-loop block) and per record, on a throwaway database file.
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
    const times: number[] = [];
    // The first batches warm the statements, the JIT and the file: not counted.
    for (let b = -3; b < batches; b++) {
      const batch = Array.from({ length: size }, () => record(n++));
      const start = process.hrtime.bigint();
      await store.insertRequests(batch);
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (b >= 0) times.push(ms);
    }
    const med = median(times);
    rows.push([
      String(size),
      fixed(med, 2),
      fixed(Math.max(...times), 2),
      fixed((med * 1000) / size, 1),
      fixed((1000 * size) / med, 0),
    ]);
  }
  await store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(
  `SqliteStore.insertRequests, ${batches} batches per size (node ${process.version}); the gateway's event loop is blocked for the whole batch\n`,
);
process.stdout.write(
  `${table(['records per batch', 'ms per batch (median)', 'max', 'µs per record', 'records/s if back to back'], rows)}\n`,
);
