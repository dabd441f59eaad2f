/**
 * The gateway's durable state behind narrow interfaces: virtual keys and the request log (which is
 * also the cost ledger). Three implementations (memory, SQLite, PostgreSQL) pass one contract
 * suite (`test/state/store-contract.ts`).
 */
import type { BoundaryConfig, BudgetConfig } from '../config/schema.ts';
import type { RequestRecord } from '../telemetry/record.ts';

/** A virtual key as stored. The plaintext is never stored: only its SHA-256 and a short prefix. */
export interface KeyRecord {
  /** `key_` + random hex; stable, used in URLs (`/admin/keys/{id}`) and in records. */
  id: string;
  /** Unique among keys. */
  name: string;
  /** Lower-case hex SHA-256 of the plaintext key. */
  keyHash: string;
  /** The first characters of the plaintext (`sk-sy-AbCd`): enough to recognise a key, useless to use it. */
  keyPrefix: string;
  team: string | null;
  /** Allowed logical model names; null means all. */
  models: string[] | null;
  rpm: number | null;
  tpm: number | null;
  budget: BudgetConfig | null;
  boundary: BoundaryConfig | null;
  createdAtMs: number;
  expiresAtMs: number | null;
  revokedAtMs: number | null;
}

/** Fields a PATCH may change; `null` clears a field, an absent field stays as it is. */
export type KeyPatch = Partial<
  Pick<
    KeyRecord,
    'name' | 'team' | 'models' | 'rpm' | 'tpm' | 'budget' | 'boundary' | 'expiresAtMs' | 'revokedAtMs'
  >
>;

/** A unique name or hash already taken. */
export class StoreConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreConflictError';
  }
}

/** The database cannot be reached or refused the operation (message names the store, never a secret). */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

export interface KeyStore {
  /** Throws StoreConflictError when the id, the name or the hash is taken (its message says which). */
  insertKey(key: KeyRecord): Promise<void>;
  getKey(id: string): Promise<KeyRecord | undefined>;
  findKeyByHash(keyHash: string): Promise<KeyRecord | undefined>;
  /** Every key, revoked ones included, oldest first. */
  listKeys(): Promise<KeyRecord[]>;
  /**
   * Answers the updated key, or undefined when there is none with this id. Throws
   * StoreConflictError when a new name is taken.
   */
  updateKey(id: string, patch: KeyPatch): Promise<KeyRecord | undefined>;
  /**
   * A number that changes whenever any key is inserted or updated, by this process or another one
   * sharing the database. Replicas poll it to drop cached keys.
   */
  keysVersion(): Promise<number>;
}

export type UsageGroupBy = 'key' | 'team' | 'provider' | 'model' | 'deployment';

export interface UsageRow {
  /**
   * The key's or team's name, the provider id, the logical model name or the deployment's model;
   * `(none)` for records without one (no team, unauthenticated, no provider reached), so every
   * grouping adds up to the same total.
   */
  group: string;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  /**
   * Sum of the priced requests' cost; unpriced requests (served, cost unknown) add nothing here and
   * are counted in `unpricedRequests`. Refused and failed requests are counted in `requests` only.
   */
  costUsd: number;
  unpricedRequests: number;
}

export interface RequestQuery {
  limit: number;
  keyName?: string;
  model?: string;
}

/** Whose spend: a key (by id), a team (by name) or a provider (by id, for commitments). */
export type SpendScope =
  | { kind: 'key'; id: string }
  | { kind: 'team'; name: string }
  | { kind: 'provider'; id: string };

export interface RequestLog {
  /**
   * Writes a batch in one transaction: the records (multi-row insert) and their cost added to the
   * daily spend roll-up. Retention never deletes the roll-up, so `total` budgets survive it.
   * Values no database takes as they are (NUL characters, fractional token counts, non-finite
   * numbers) are made storable, so one odd record never fails its batch.
   */
  insertRequests(records: readonly RequestRecord[]): Promise<void>;
  /** Newest first by start time; records that started in the same millisecond, last written first. */
  listRequests(query: RequestQuery): Promise<RequestRecord[]>;
  /** Requests that started in [fromMs, toMs), grouped. Rows sorted by cost, then requests, descending. */
  usage(groupBy: UsageGroupBy, fromMs: number, toMs: number): Promise<UsageRow[]>;
  /** Deletes request records that started before `ms`; answers how many. */
  deleteRequestsBefore(ms: number): Promise<number>;
  /** USD recorded for the scope on UTC days from the day holding `fromMs` on (the daily roll-up). */
  spendSince(scope: SpendScope, fromMs: number): Promise<number>;
}

export interface Store extends KeyStore, RequestLog {
  readonly kind: 'memory' | 'sqlite' | 'postgres';
  close(): Promise<void>;
}
