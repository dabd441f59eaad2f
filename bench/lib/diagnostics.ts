/** The diagnostic reports: --profile (CPU hot spots) and --alloc-profile (allocations). */

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { summarizeAllocations, summarizeProfile } from './profile.ts';
import { allocProfileFile, profileDir, ROOT } from './repo.ts';
import { log, state } from './state.ts';
import { fixed, int, mib, percent, table } from './table.ts';

export function printProfile(): void {
  if (!existsSync(profileDir)) return;
  const files = readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) {
    log(`\nno CPU profile was written to ${profileDir} (the gateway did not exit cleanly?)`);
    return;
  }
  const file = join(profileDir, files.sort().at(-1)!);
  const summary = summarizeProfile(file, ROOT, 20);
  const rows = (list: { name: string; ms: number; share: number }[]) =>
    list.map((h) => [h.name, int(h.ms), percent(h.share, 1)]);
  const out = [
    '',
    `Gateway CPU profile (${file}): ${int(summary.busyMs)} ms busy of ${int(summary.totalMs)} ms`,
    '',
    'Self time by function',
    table(['function', 'ms', 'share of busy'], rows(summary.selfByFunction)),
    '',
    'Self time by file',
    table(['file', 'ms', 'share of busy'], rows(summary.selfByFile)),
    '',
    "Inclusive time of the gateway's own functions (dist/)",
    table(['function', 'ms', 'share of busy'], rows(summary.inclusiveProject)),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

export function printAllocations(): void {
  if (!existsSync(allocProfileFile)) {
    log(`\nno allocation profile was written to ${allocProfileFile}`);
    return;
  }
  const summary = summarizeAllocations(allocProfileFile, ROOT, 20);
  const served = state.records
    .filter((r) => r.target === 'gateway')
    .reduce((sum, r) => sum + r.load.ok + r.load.non2xx, 0);
  const rows = (list: { name: string; ms: number; share: number }[]) =>
    list.map((h) => [h.name, mib(h.ms), percent(h.share, 1)]);
  const out = [
    '',
    `Gateway allocations (${allocProfileFile}): ${mib(summary.totalBytes)} MiB sampled over ` +
      `${int(served)} requests ≈ ${fixed(summary.totalBytes / Math.max(1, served) / 1024, 1)} KiB per request ` +
      '(sampling estimate; includes start-up)',
    '',
    'Bytes allocated by function (self)',
    table(['function', 'MiB', 'share'], rows(summary.selfByFunction)),
    '',
    "Bytes allocated under the gateway's own functions (callees included)",
    table(['function', 'MiB', 'share'], rows(summary.inclusiveProject)),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}
