/**
 * `switchyard keys create|list|revoke`: virtual keys in the configured store, for an operator on
 * the box (the admin API does the same over HTTP). A running gateway sees the change on its next
 * keys-version check. The plaintext of a new key is printed once; only its hash is stored.
 */
import { parseArgs } from 'node:util';
import type { BudgetConfig, Config } from '../config/index.ts';
import { BUDGET_PERIODS } from '../config/schema.ts';
import { generateVirtualKey, newKeyId } from '../identity/virtual-keys.ts';
import type { KeyRecord, Store } from '../state/types.ts';
import {
  choiceFlag,
  FlagError,
  formatTable,
  isoTime,
  isoTimeFlag,
  listFlag,
  nonNegativeNumberFlag,
  positiveIntFlag,
  requireFlag,
  withConfiguredStore,
  withFlagErrors,
} from './flags.ts';

export const KEYS_HELP = `Usage: switchyard keys create --config FILE --name NAME [--team TEAM] [--models a,b]
                            [--rpm N] [--tpm N] [--budget-usd X [--budget-period P] [--budget-mode M]]
                            [--expires-at ISO]
       switchyard keys list --config FILE
       switchyard keys revoke --config FILE ID

Manages virtual keys in the store named by the configuration's storage (the one \`serve\` uses;
sqlite:PATH or postgres://..., not memory). A running gateway picks up changes within a second.

  create   makes a key and prints its id and plaintext (sk-sy-...). The plaintext is shown only
           this once: only its hash is stored. --team and --models must name a team and models
           of the configuration. --budget-period: day | week | month | total (default month);
           --budget-mode: hard | soft (default hard). --expires-at: 2026-12-31 or
           2026-12-31T23:59:59Z; the key is refused from then on.
  list     prints every stored key (id, name, prefix, team, created, expires, revoked); never a
           hash or a plaintext. Static keys from the configuration file are not listed.
  revoke   refuses the key with this id from now on (the record stays, marked revoked).`;

export function keysCommand(args: string[]): Promise<number> {
  return withFlagErrors('keys', KEYS_HELP, async () => {
    const [subcommand, ...rest] = args;
    switch (subcommand) {
      case 'create':
        return createKey(rest);
      case 'list':
        return listKeys(rest);
      case 'revoke':
        return revokeKey(rest);
      default:
        throw new FlagError(
          subcommand === undefined
            ? 'expected a subcommand: create, list or revoke'
            : `unknown subcommand "${subcommand}": expected create, list or revoke`,
        );
    }
  });
}

async function createKey(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string' },
      name: { type: 'string' },
      team: { type: 'string' },
      models: { type: 'string' },
      rpm: { type: 'string' },
      tpm: { type: 'string' },
      'budget-usd': { type: 'string' },
      'budget-period': { type: 'string' },
      'budget-mode': { type: 'string' },
      'expires-at': { type: 'string' },
    },
  });
  const configFile = requireFlag('config', values.config);
  const name = requireFlag('name', values.name).trim();
  const models = listFlag('models', values.models);
  const rpm = positiveIntFlag('rpm', values.rpm);
  const tpm = positiveIntFlag('tpm', values.tpm);
  const budget = budgetFlags(values['budget-usd'], values['budget-period'], values['budget-mode']);
  const expiresAtMs = isoTimeFlag('expires-at', values['expires-at']);
  if (expiresAtMs !== undefined && expiresAtMs <= Date.now()) {
    throw new FlagError(`--expires-at: ${values['expires-at']} has passed; expected a time in the future`);
  }

  return withConfiguredStore(configFile, async (store, config) => {
    checkAgainstConfig(config, name, values.team, models);
    const generated = generateVirtualKey();
    const key: KeyRecord = {
      id: newKeyId(),
      name,
      keyHash: generated.keyHash,
      keyPrefix: generated.keyPrefix,
      team: values.team ?? null,
      models: models ?? null,
      rpm: rpm ?? null,
      tpm: tpm ?? null,
      budget: budget ?? null,
      boundary: null,
      createdAtMs: Date.now(),
      expiresAtMs: expiresAtMs ?? null,
      revokedAtMs: null,
    };
    await store.insertKey(key);
    process.stdout.write(`id:   ${key.id}\nname: ${key.name}\nkey:  ${generated.plaintext}\n`);
    process.stderr.write('This is the only time the key is shown: store it now. Only its hash is kept.\n');
    return 0;
  });
}

function budgetFlags(
  usdText: string | undefined,
  periodText: string | undefined,
  modeText: string | undefined,
): BudgetConfig | undefined {
  const usd = nonNegativeNumberFlag('budget-usd', usdText);
  const period = choiceFlag('budget-period', periodText, BUDGET_PERIODS);
  const mode = choiceFlag('budget-mode', modeText, ['hard', 'soft'] as const);
  if (usd === undefined) {
    if (period !== undefined || mode !== undefined) {
      throw new FlagError('--budget-period and --budget-mode need --budget-usd');
    }
    return undefined;
  }
  return { usd, period: period ?? 'month', mode: mode ?? 'hard' };
}

/** A key's team and models must exist, and its name must not shadow a static key's. */
function checkAgainstConfig(
  config: Config,
  name: string,
  team: string | undefined,
  models: string[] | undefined,
) {
  if (config.keys.some((k) => k.name === name)) {
    throw new FlagError(`--name: "${name}" is the name of a static key in the configuration; choose another`);
  }
  if (team !== undefined && !config.teams.some((t) => t.name === team)) {
    const known = config.teams.map((t) => t.name).join(', ') || 'none';
    throw new FlagError(`--team: no team named "${team}" in the configuration (teams: ${known})`);
  }
  const unknown = (models ?? []).filter((m) => !config.models.some((c) => c.name === m));
  if (unknown.length > 0) {
    const known = config.models.map((m) => m.name).join(', ');
    throw new FlagError(
      `--models: no model named ${unknown.map((m) => `"${m}"`).join(', ')} (models: ${known})`,
    );
  }
}

async function listKeys(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' } } });
  return withConfiguredStore(requireFlag('config', values.config), async (store) => {
    const keys = await store.listKeys();
    const rows = keys.map((k) => [
      k.id,
      k.name,
      k.keyPrefix,
      k.team ?? '-',
      isoTime(k.createdAtMs),
      k.expiresAtMs === null ? '-' : isoTime(k.expiresAtMs),
      k.revokedAtMs === null ? '-' : isoTime(k.revokedAtMs),
    ]);
    process.stdout.write(
      `${formatTable(['ID', 'NAME', 'PREFIX', 'TEAM', 'CREATED', 'EXPIRES', 'REVOKED'], rows)}\n`,
    );
    if (keys.length === 0) process.stdout.write('(no keys)\n');
    return 0;
  });
}

async function revokeKey(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { config: { type: 'string' } },
    allowPositionals: true,
  });
  const configFile = requireFlag('config', values.config);
  if (positionals.length !== 1) throw new FlagError('revoke: expected exactly one key id');
  const id = positionals[0] as string;
  if (id.startsWith('static:')) {
    throw new FlagError(`${id} comes from the configuration file: remove it there to revoke it`);
  }
  return withConfiguredStore(configFile, async (store) => revoke(store, id));
}

async function revoke(store: Store, id: string): Promise<number> {
  const key = await store.getKey(id);
  if (!key) {
    process.stderr.write(`switchyard keys: no key with id "${id}" (see \`switchyard keys list\`)\n`);
    return 1;
  }
  if (key.revokedAtMs !== null) {
    process.stdout.write(`${key.id} (${key.name}) was already revoked at ${isoTime(key.revokedAtMs)}\n`);
    return 0;
  }
  const revokedAtMs = Date.now();
  await store.updateKey(id, { revokedAtMs });
  process.stdout.write(`revoked ${key.id} (${key.name}) at ${isoTime(revokedAtMs)}\n`);
  return 0;
}
