/**
 * Virtual keys through the admin API: validation of what an operator sends, the view of a key
 * (never its hash or plaintext), creation with the plaintext shown once, patch and revocation.
 */
import { z } from 'zod';
import { boundarySchema, budgetSchema } from '../config/schema.ts';
import { GatewayError } from '../core/errors.ts';
import { parseIsoTime } from '../core/time.ts';
import type { Runtime } from '../gateway/runtime.ts';
import { generateVirtualKey, newKeyId } from '../identity/virtual-keys.ts';
import { issuesToError } from '../ingress/openai/issues.ts';
import { type KeyPatch, type KeyRecord, StoreConflictError } from '../state/types.ts';

const isoTime = z.string().refine((v) => parseIsoTime(v) !== undefined, 'expected an ISO 8601 time');
const positiveInt = z.number().int('must be an integer').min(1, 'must be at least 1');

const keyFields = {
  name: z.string().min(1, 'must not be empty').max(128, 'at most 128 characters'),
  team: z.string().min(1).nullable(),
  models: z.array(z.string().min(1)).nullable(),
  rpm: positiveInt.nullable(),
  tpm: positiveInt.nullable(),
  budget: budgetSchema.nullable(),
  boundary: boundarySchema.nullable(),
  expiresAt: isoTime.nullable(),
};

const createSchema = z.strictObject({
  name: keyFields.name,
  team: keyFields.team.optional(),
  models: keyFields.models.optional(),
  rpm: keyFields.rpm.optional(),
  tpm: keyFields.tpm.optional(),
  budget: keyFields.budget.optional(),
  boundary: keyFields.boundary.optional(),
  expiresAt: keyFields.expiresAt.optional(),
});

const patchSchema = createSchema.partial();

type KeyInput = z.output<typeof patchSchema>;

export interface KeyView {
  id: string;
  name: string;
  /** The first characters of the key, to recognise it; never enough to use it. */
  prefix: string | null;
  source: 'api' | 'config';
  team: string | null;
  models: string[] | null;
  rpm: number | null;
  tpm: number | null;
  budget: KeyRecord['budget'];
  boundary: KeyRecord['boundary'];
  createdAt: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function keyView(k: KeyRecord): KeyView {
  return {
    id: k.id,
    name: k.name,
    prefix: k.keyPrefix,
    source: 'api',
    team: k.team,
    models: k.models,
    rpm: k.rpm,
    tpm: k.tpm,
    budget: k.budget,
    boundary: k.boundary,
    createdAt: iso(k.createdAtMs),
    expiresAt: iso(k.expiresAtMs),
    revokedAt: iso(k.revokedAtMs),
  };
}

/** Keys from the configuration, as the admin API lists them (read-only: edit the file). */
export function configKeyViews(rt: Runtime): KeyView[] {
  return rt.config.keys.map((k) => ({
    id: `static:${k.name}`,
    name: k.name,
    prefix: null,
    source: 'config',
    team: k.team ?? null,
    models: k.models ?? null,
    rpm: k.rpm ?? null,
    tpm: k.tpm ?? null,
    budget: k.budget ?? null,
    boundary: k.boundary ?? null,
    createdAt: null,
    expiresAt: k.expiresAt === undefined ? null : new Date(Date.parse(k.expiresAt)).toISOString(),
    revokedAt: null,
  }));
}

/** References to teams, models and providers must name things the configuration has. */
function checkReferences(rt: Runtime, input: KeyInput): void {
  if (input.team != null && !rt.identity.team(input.team)) {
    throw new GatewayError(
      'invalid_request',
      `team: unknown team "${input.team}" (teams are configured in the file)`,
      {
        param: 'team',
      },
    );
  }
  input.models?.forEach((m, i) => {
    if (!rt.models.has(m)) {
      throw new GatewayError('invalid_request', `models[${i}]: unknown model "${m}"`, {
        param: `models[${i}]`,
      });
    }
  });
  input.boundary?.providers?.forEach((p, i) => {
    if (!rt.providers.has(p)) {
      throw new GatewayError('invalid_request', `boundary.providers[${i}]: unknown provider "${p}"`, {
        param: `boundary.providers[${i}]`,
      });
    }
  });
  if (input.name !== undefined && rt.config.keys.some((k) => k.name === input.name)) {
    throw new GatewayError('conflict', `name: "${input.name}" is already a key in the configuration`, {
      param: 'name',
    });
  }
}

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body, { reportInput: true });
  if (!parsed.success) throw issuesToError(parsed.error.issues);
  return parsed.data;
}

export async function createKey(rt: Runtime, body: unknown): Promise<KeyView & { key: string }> {
  const input = parse(createSchema, body);
  checkReferences(rt, input);
  const generated = generateVirtualKey();
  const record: KeyRecord = {
    id: newKeyId(),
    name: input.name,
    keyHash: generated.keyHash,
    keyPrefix: generated.keyPrefix,
    team: input.team ?? null,
    models: input.models ?? null,
    rpm: input.rpm ?? null,
    tpm: input.tpm ?? null,
    budget: input.budget ?? null,
    boundary: input.boundary ?? null,
    createdAtMs: Date.now(),
    expiresAtMs: input.expiresAt == null ? null : (parseIsoTime(input.expiresAt) ?? null),
    revokedAtMs: null,
  };
  try {
    await rt.store.insertKey(record);
  } catch (err) {
    throw conflictOr(err);
  }
  rt.identity.invalidate();
  return { ...keyView(record), key: generated.plaintext };
}

export async function patchKey(rt: Runtime, id: string, body: unknown): Promise<KeyView> {
  refuseConfigKey(id);
  const input = parse(patchSchema, body);
  checkReferences(rt, input);
  const patch: KeyPatch = {};
  if (input.name !== undefined) patch.name = input.name;
  if (input.team !== undefined) patch.team = input.team;
  if (input.models !== undefined) patch.models = input.models;
  if (input.rpm !== undefined) patch.rpm = input.rpm;
  if (input.tpm !== undefined) patch.tpm = input.tpm;
  if (input.budget !== undefined) patch.budget = input.budget;
  if (input.boundary !== undefined) patch.boundary = input.boundary;
  if (input.expiresAt !== undefined)
    patch.expiresAtMs = input.expiresAt === null ? null : (parseIsoTime(input.expiresAt) ?? null);
  let updated: KeyRecord | undefined;
  try {
    updated = await rt.store.updateKey(id, patch);
  } catch (err) {
    throw conflictOr(err);
  }
  rt.identity.invalidate();
  if (!updated) throw notFound(id);
  return keyView(updated);
}

/** Revocation takes effect on the next request: the key cache is dropped at once. */
export async function revokeKey(rt: Runtime, id: string): Promise<KeyView> {
  refuseConfigKey(id);
  const existing = await rt.store.getKey(id);
  if (!existing) throw notFound(id);
  const updated =
    existing.revokedAtMs === null ? await rt.store.updateKey(id, { revokedAtMs: Date.now() }) : existing;
  rt.identity.invalidate();
  if (!updated) throw notFound(id);
  return keyView(updated);
}

export async function getKey(rt: Runtime, id: string): Promise<KeyView> {
  const fixed = configKeyViews(rt).find((k) => k.id === id);
  if (fixed) return fixed;
  const record = await rt.store.getKey(id);
  if (!record) throw notFound(id);
  return keyView(record);
}

export async function listKeys(rt: Runtime): Promise<KeyView[]> {
  return [...configKeyViews(rt), ...(await rt.store.listKeys()).map(keyView)];
}

function refuseConfigKey(id: string): void {
  if (id.startsWith('static:')) {
    throw new GatewayError('conflict', `key ${id} is defined in the configuration file; change it there`);
  }
}

function notFound(id: string): GatewayError {
  return new GatewayError('not_found', `no key with id ${id}`);
}

function conflictOr(err: unknown): unknown {
  if (err instanceof StoreConflictError)
    return new GatewayError('conflict', `name: ${err.message}`, { param: 'name' });
  return err;
}
