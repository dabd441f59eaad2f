/** Where things are: the repository, its git state, and the benchmark's output folders. */

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const profileRoot = join(ROOT, '.bench', 'profile');
export const logDir = join(ROOT, '.bench', 'logs');

/** Where one gateway's CPU profile (--profile) is written. */
export function profileDir(gateway: string): string {
  return join(profileRoot, gateway);
}

/** Where one gateway's allocation profile (--alloc-profile) is written. */
export function allocProfileFile(gateway: string): string {
  return join(profileRoot, `${gateway}-allocations.heapprofile`);
}

/** Where a gateway's heap probe (heap-probe.ts) appends the live heap, one line per probe. */
export function heapProbeFile(gateway: string): string {
  return join(ROOT, '.bench', `heap-probe-${gateway}.txt`);
}

/** Newest modification time under a folder (ms), for the "dist is older than src" warning. */
export function newestMtime(dir: string, suffix: string): number {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith(suffix)) continue;
    newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

export function gitDescription(): string {
  try {
    const rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'bin'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
    return dirty ? `${rev} + uncommitted changes in src/ or bin/` : rev;
  } catch {
    return 'unknown';
  }
}

/** Where a gateway's GC probe (gc-probe.ts) keeps its running GC totals. */
export function gcStatsFile(gateway: string): string {
  return join(ROOT, '.bench', `gc-${gateway}.json`);
}
