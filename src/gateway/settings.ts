import type { Config } from '../config/schema.ts';

/**
 * Configuration the contract accepts but this build does not act on yet. Said out loud by `serve`,
 * `check` and a programmatic start alike, rather than silently ignored, so nobody believes a
 * setting protects them when it does not.
 */
export function unimplementedSettings(config: Config): string[] {
  const notes: string[] = [];
  const governed = [...config.teams, ...config.keys].some((x) => x.rpm || x.tpm || x.budget);
  if (governed) notes.push('rpm, tpm and budget limits on keys and teams: not enforced yet');
  config.providers.forEach((p, i) => {
    if (p.commitment)
      notes.push(`providers[${i}].commitment: not used yet (commitment-first routes by priority)`);
  });
  if (config.redis) notes.push('redis: shared state is not used yet; each replica keeps its own');
  if (config.alerts.webhook) notes.push('alerts.webhook: budget alerts are not sent yet');
  return notes;
}
