/**
 * What the store commands (`keys`, `usage`) share: reading typed flags with errors that name the
 * flag and the rule, opening the configured store, and printing aligned tables.
 */
import { type Config, loadConfigFile } from '../config/index.ts';
import { parseIsoTime } from '../core/time.ts';
import { openStore } from '../state/open.ts';
import type { Store } from '../state/types.ts';

/** A bad flag: the command prints it with its help and exits 2. */
export class FlagError extends Error {}

/** Runs a command, turning a FlagError into its message plus the command's help on stderr, exit 2. */
export async function withFlagErrors(
  command: string,
  help: string,
  run: () => Promise<number>,
): Promise<number> {
  try {
    return await run();
  } catch (err) {
    if (!(err instanceof FlagError)) throw err;
    process.stderr.write(`switchyard ${command}: ${err.message}\n\n${help}\n`);
    return 2;
  }
}

export function requireFlag(name: string, value: string | undefined): string {
  if (value === undefined || value.trim() === '') throw new FlagError(`--${name} is required`);
  return value;
}

export function positiveIntFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new FlagError(`--${name}: expected a positive whole number, got "${value}"`);
  }
  return n;
}

export function nonNegativeNumberFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new FlagError(`--${name}: expected a number of 0 or more, got "${value}"`);
  }
  return n;
}

export function choiceFlag<T extends string>(
  name: string,
  value: string | undefined,
  choices: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(value)) {
    throw new FlagError(`--${name}: expected one of ${choices.join(', ')}, got "${value}"`);
  }
  return value as T;
}

/** `a,b` → ['a', 'b']. */
export function listFlag(name: string, value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (items.length === 0) throw new FlagError(`--${name}: expected a comma-separated list, got "${value}"`);
  return items;
}

/** A date (UTC midnight) or a time with its zone: a time without a zone would depend on the machine. */
const ISO = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/;

export function isoTimeFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseIsoTime(value);
  if (!ISO.test(value) || ms === undefined) {
    throw new FlagError(
      `--${name}: expected an ISO 8601 date or a time with its zone, such as 2026-03-01 or 2026-03-01T09:00:00Z; got "${value}"`,
    );
  }
  return ms;
}

/** `2026-03-01T09:00:00Z` (no milliseconds). */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Loads the configuration and opens its `storage`, the same store `serve` uses, for `run`; closes
 * it after. `memory` is refused: a store that lives in one process has nothing to show another.
 */
export async function withConfiguredStore<T>(
  configFile: string,
  run: (store: Store, config: Config) => Promise<T>,
): Promise<T> {
  const config = loadConfigFile(configFile);
  if (config.storage === 'memory') {
    throw new Error(
      'storage is memory: keys and records live only inside the running gateway. ' +
        'Set storage to sqlite:PATH or postgres://... to manage them from the command line',
    );
  }
  const store = await openStore(config.storage);
  try {
    return await run(store, config);
  } finally {
    await store.close();
  }
}

/** Columns padded to their widest cell, two spaces apart; `right` columns aligned right (numbers). */
export function formatTable(
  headers: readonly string[],
  rows: readonly string[][],
  right: readonly boolean[] = [],
): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (right[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}
