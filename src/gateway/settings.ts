import type { Config } from '../config/schema.ts';

/**
 * Settings that do what they say but probably not what the operator wants, said out loud by
 * `serve`, `check` and a programmatic start alike.
 */
export function configurationWarnings(config: Config): string[] {
  const notes: string[] = [];
  const limited = [...config.teams, ...config.keys].some((x) => x.rpm || x.tpm || x.budget);
  const shared = config.storage.startsWith('postgres');
  if (limited && shared && !config.redis) {
    notes.push(
      'storage is shared (PostgreSQL) but redis: is not set: key and team rate limits and budgets are counted per replica, so several replicas multiply them',
    );
  }
  return notes;
}
