/** The diagnostic reports: --profile (CPU hot spots) and --alloc-profile (allocations), per gateway. */

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SETTINGS } from './args.ts';
import { summarizeAllocations, summarizeProfile } from './profile.ts';
import { allocProfileFile, profileDir, ROOT } from './repo.ts';
import { label } from './requests.ts';
import type { ScenarioName } from './scenarios.ts';
import { log, state } from './state.ts';
import { fixed, int, mib, percent, table } from './table.ts';

function printOneProfile(scenario: ScenarioName): void {
  const dir = profileDir(scenario);
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')) : [];
  if (files.length === 0) {
    log(`\nno CPU profile was written to ${dir} (the gateway did not exit cleanly?)`);
    return;
  }
  const file = join(dir, files.sort().at(-1)!);
  const summary = summarizeProfile(file, ROOT, 20);
  const rows = (list: { name: string; ms: number; share: number }[]) =>
    list.map((h) => [h.name, int(h.ms), percent(h.share, 1)]);
  const out = [
    '',
    `${label(scenario)}: CPU profile (${file}): ${int(summary.busyMs)} ms busy of ${int(summary.totalMs)} ms`,
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

export function printProfile(): void {
  for (const scenario of SETTINGS.scenarios) printOneProfile(scenario);
}

function printOneAllocation(scenario: ScenarioName): void {
  const file = allocProfileFile(scenario);
  if (!existsSync(file)) {
    log(`\nno allocation profile was written to ${file}`);
    return;
  }
  const summary = summarizeAllocations(file, ROOT, 20);
  const served = state.records
    .filter((r) => r.target === scenario)
    .reduce((sum, r) => sum + r.load.ok + r.load.non2xx, 0);
  const rows = (list: { name: string; ms: number; share: number }[]) =>
    list.map((h) => [h.name, mib(h.ms), percent(h.share, 1)]);
  const out = [
    '',
    `${label(scenario)}: allocations (${file}): ${mib(summary.totalBytes)} MiB sampled over ` +
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

export function printAllocations(): void {
  for (const scenario of SETTINGS.scenarios) printOneAllocation(scenario);
}
