/**
 * `storage: memory`: everything in this process, nothing kept across restarts. Same behaviour as
 * the SQL stores (the contract suite runs against it), with one difference: the request log is
 * bounded (`maxRequests`, oldest forgotten first), since there is no disk to grow into. The spend
 * roll-up is not bounded by it, as budgets must not forget spend.
 */
import type { RequestRecord } from '../telemetry/record.ts';
import { KEY_PATCH_COLUMNS, storedRequest } from './rows.ts';
import { rollUp, scopeText, utcDay } from './spend.ts';
import {
  type KeyPatch,
  type KeyRecord,
  type RequestQuery,
  type SpendScope,
  type Store,
  StoreConflictError,
  type UsageGroupBy,
  type UsageRow,
} from './types.ts';
import { isUnpriced, NO_GROUP, sortUsageRows } from './usage.ts';

/** Records the memory store keeps (`storage: memory` persists nothing); oldest dropped first. */
export const DEFAULT_MEMORY_MAX_REQUESTS = 10_000;

const GROUP_FIELD: Readonly<Record<UsageGroupBy, (r: RequestRecord) => string | null>> = {
  key: (r) => r.keyName,
  team: (r) => r.team,
  provider: (r) => r.provider,
  model: (r) => r.model,
  deployment: (r) => r.deployment,
};

export class MemoryStore implements Store {
  readonly kind = 'memory';
  private readonly keys = new Map<string, KeyRecord>();
  private version = 0;
  /**
   * Each record as its JSON text, in insertion order (which breaks ties between records that
   * started in the same millisecond). Text, not objects: every kept record outlives several
   * young-generation collections and is promoted, and a record as objects (its attempts, their
   * strings) cost the collector enough to show as ~40% more gateway CPU per request at saturation;
   * one flat string per record is cheap to promote and to mark. Reads (admin) parse what they need.
   */
  private requests: string[] = [];
  /** `scope\0day` → USD. */
  private readonly spend = new Map<string, number>();

  private readonly maxRequests: number;

  constructor(maxRequests = DEFAULT_MEMORY_MAX_REQUESTS) {
    this.maxRequests = maxRequests;
  }

  async insertKey(key: KeyRecord): Promise<void> {
    const conflict = this.conflictWith(key, undefined);
    if (conflict) throw new StoreConflictError(conflict);
    this.keys.set(key.id, structuredClone(key));
    this.version++;
  }

  async getKey(id: string): Promise<KeyRecord | undefined> {
    const key = this.keys.get(id);
    return key && structuredClone(key);
  }

  async findKeyByHash(keyHash: string): Promise<KeyRecord | undefined> {
    for (const key of this.keys.values()) if (key.keyHash === keyHash) return structuredClone(key);
    return undefined;
  }

  async listKeys(): Promise<KeyRecord[]> {
    return [...this.keys.values()]
      .sort((a, b) => a.createdAtMs - b.createdAtMs || (a.id < b.id ? -1 : 1))
      .map((k) => structuredClone(k));
  }

  async updateKey(id: string, patch: KeyPatch): Promise<KeyRecord | undefined> {
    const current = this.keys.get(id);
    if (!current) return undefined;
    const updated: KeyRecord = structuredClone(current);
    // Only the patchable fields, and "undefined means absent": the same rules as the SQL stores.
    for (const field of Object.keys(KEY_PATCH_COLUMNS) as (keyof KeyPatch)[]) {
      const value = patch[field];
      if (value !== undefined) Object.assign(updated, { [field]: structuredClone(value) });
    }
    if (patch.name !== undefined) {
      const conflict = this.conflictWith(updated, id);
      if (conflict) throw new StoreConflictError(conflict);
    }
    this.keys.set(id, updated);
    this.version++;
    return structuredClone(updated);
  }

  async keysVersion(): Promise<number> {
    return this.version;
  }

  async insertRequests(records: readonly RequestRecord[]): Promise<void> {
    for (const { scope, day, usd } of rollUp(records)) {
      const id = `${scope}\u0000${day}`;
      this.spend.set(id, (this.spend.get(id) ?? 0) + usd);
    }
    // As the lifecycle made it; made storable (storedRequest) when read, since reads are rare and
    // writes are one per request.
    for (const record of records) this.requests.push(JSON.stringify(record));
    if (this.requests.length > this.maxRequests) {
      this.requests = this.requests.slice(this.requests.length - this.maxRequests);
    }
  }

  private records(): RequestRecord[] {
    return this.requests.map((text) => storedRequest(JSON.parse(text) as RequestRecord));
  }

  async listRequests(query: RequestQuery): Promise<RequestRecord[]> {
    const matching: { record: RequestRecord; order: number }[] = [];
    this.records().forEach((record, order) => {
      if (query.keyName !== undefined && record.keyName !== query.keyName) return;
      if (query.model !== undefined && record.model !== query.model) return;
      matching.push({ record, order });
    });
    matching.sort((a, b) => b.record.startedAtMs - a.record.startedAtMs || b.order - a.order);
    return matching.slice(0, Math.max(0, query.limit)).map((m) => m.record);
  }

  async usage(groupBy: UsageGroupBy, fromMs: number, toMs: number): Promise<UsageRow[]> {
    const rows = new Map<string, UsageRow>();
    for (const r of this.records()) {
      if (r.startedAtMs < fromMs || r.startedAtMs >= toMs) continue;
      // Empty counts as none, as in the SQL stores (NULLIF).
      const group = GROUP_FIELD[groupBy](r) || NO_GROUP;
      let row = rows.get(group);
      if (!row) {
        row = { group, requests: 0, inputTokens: 0, outputTokens: 0, costUsd: 0, unpricedRequests: 0 };
        rows.set(group, row);
      }
      row.requests++;
      row.inputTokens += r.inputTokens ?? 0;
      row.outputTokens += r.outputTokens ?? 0;
      if (r.costUsd !== null) row.costUsd += r.costUsd;
      else if (isUnpriced(r)) row.unpricedRequests++;
    }
    return sortUsageRows([...rows.values()]);
  }

  async deleteRequestsBefore(ms: number): Promise<number> {
    const before = this.requests.length;
    this.requests = this.requests.filter((text) => (JSON.parse(text) as RequestRecord).startedAtMs >= ms);
    return before - this.requests.length;
  }

  async spendSince(scope: SpendScope, fromMs: number): Promise<number> {
    const prefix = `${scopeText(scope)}\u0000`;
    const fromDay = utcDay(fromMs);
    let usd = 0;
    for (const [id, amount] of this.spend) {
      if (id.startsWith(prefix) && id.slice(prefix.length) >= fromDay) usd += amount;
    }
    return usd;
  }

  async close(): Promise<void> {}

  /** The message of the unique rule `key` would break, or undefined. */
  private conflictWith(key: KeyRecord, updatingId: string | undefined): string | undefined {
    if (updatingId === undefined && this.keys.has(key.id)) return `a key with id "${key.id}" already exists`;
    for (const other of this.keys.values()) {
      if (other.id === updatingId) continue;
      if (other.name === key.name) return `a key named "${key.name}" already exists`;
      if (other.keyHash === key.keyHash) return 'a key with the same secret already exists';
    }
    return undefined;
  }
}
