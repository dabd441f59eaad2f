import { hash } from 'node:crypto';
import type { BoundaryConfig, BudgetConfig, KeyConfig, TeamConfig } from '../config/schema.ts';
import { GatewayError } from '../core/errors.ts';
import type { KeyRecord, KeyStore } from '../state/types.ts';

/** What a key or a team may do: models, rate limits, budget, data boundary. */
export interface Policy {
  /** Allowed logical model names; undefined means all. */
  models: ReadonlySet<string> | undefined;
  rpm?: number;
  tpm?: number;
  budget?: BudgetConfig;
  boundary?: BoundaryConfig;
}

export interface TeamPolicy extends Policy {
  name: string;
  /**
   * A stored key names a team the configuration no longer has (renamed or removed). Its rules
   * are unknown, so the key may use nothing until the team is back or the key moves (fail closed).
   */
  unconfigured?: true;
}

/** Allows no model and no deployment: what an unknown team's rules are taken to be. */
function unconfiguredTeam(name: string): TeamPolicy {
  return { name, models: new Set(), boundary: { providers: [] }, unconfigured: true };
}

/** Who is calling: the key, its policy, and its team's. A request must satisfy both. */
export interface Principal {
  /** `static:<name>` for keys from the configuration, the store's id (`key_...`) otherwise. */
  keyId: string;
  keyName: string;
  key: Policy;
  team: TeamPolicy | undefined;
}

/** Keys are identified by their SHA-256 only: no plaintext key is kept after start-up. */
export function hashKey(key: string): string {
  return hash('sha256', key);
}

const UNAUTHENTICATED_HEADERS = { 'www-authenticate': 'Bearer realm="switchyard"' };

function unauthenticated(message: string): GatewayError {
  return new GatewayError('invalid_api_key', message, { headers: UNAUTHENTICATED_HEADERS });
}

/**
 * A known key refused (revoked or expired): the client gets the same 401, and the request record
 * names the key, so an operator sees who still uses it.
 */
export class KeyRefusedError extends GatewayError {
  readonly keyId: string;
  readonly keyName: string;
  constructor(message: string, key: { keyId: string; keyName: string }) {
    super('invalid_api_key', message, { headers: UNAUTHENTICATED_HEADERS });
    this.keyId = key.keyId;
    this.keyName = key.keyName;
  }
}

/** Cached lookups (hits and misses), dropped whenever any key changes anywhere. */
const CACHE_LIMIT = 10_000;
/** How often the store's key version is read, so a revocation on another replica lands within a second. */
export const KEY_VERSION_POLL_MS = 250;
/** Readings of a key while changes keep landing, before the last one is used as it is. */
const LOOKUP_ATTEMPTS = 3;

interface CachedKey {
  record: KeyRecord | undefined;
  principal: Principal | undefined;
}

/**
 * Authenticates bearer keys: static keys from the configuration (hashed at start-up) and keys in
 * the store (created by the admin API or the CLI). Store lookups are cached by key hash; the cache
 * is dropped on every local change at once and on every change made elsewhere within
 * KEY_VERSION_POLL_MS, so it never serves a revoked key past that.
 */
export class Identity {
  private readonly statics = new Map<string, Principal>();
  private readonly teams = new Map<string, TeamPolicy>();
  private readonly cache = new Map<string, CachedKey>();
  /**
   * Bumped by every invalidation. A lookup caches its answer only if no invalidation happened
   * while it read the store: a read that began before a revocation may return the key as it was,
   * and caching that would serve the revoked key until the next change.
   */
  private generation = 0;
  private version: number | undefined;
  private poller: NodeJS.Timeout | undefined;
  private readonly store: KeyStore | undefined;

  constructor(keys: readonly KeyConfig[], teams: readonly TeamConfig[], store?: KeyStore) {
    this.store = store;
    for (const t of teams) this.teams.set(t.name, { name: t.name, ...policyOf(t) });
    for (const k of keys) {
      this.statics.set(hashKey(k.key), {
        keyId: `static:${k.name}`,
        keyName: k.name,
        key: policyOf(k),
        team: k.team === undefined ? undefined : this.teams.get(k.team),
      });
    }
    this.expiresAt = new Map(
      keys
        .filter((k) => k.expiresAt !== undefined)
        .map((k) => [`static:${k.name}`, Date.parse(k.expiresAt!)]),
    );
  }

  private readonly expiresAt: Map<string, number>;

  team(name: string): TeamPolicy | undefined {
    return this.teams.get(name);
  }

  teamNames(): string[] {
    return [...this.teams.keys()];
  }

  /** Watches the store's key version (other replicas' changes). */
  start(): void {
    if (!this.store || this.poller) return;
    const store = this.store;
    this.poller = setInterval(() => {
      store.keysVersion().then(
        (version) => {
          // The first reading clears too: lookups cached before it may predate a change made
          // elsewhere since start-up, and no earlier version is known to compare with.
          if (version !== this.version) this.invalidate();
          this.version = version;
        },
        () => {
          // The store is away: keep serving what is cached; local revocations already cleared it.
        },
      );
    }, KEY_VERSION_POLL_MS);
    this.poller.unref();
  }

  stop(): void {
    clearInterval(this.poller);
    this.poller = undefined;
  }

  /** A key changed through this process: forget every cached lookup now. */
  invalidate(): void {
    this.generation++;
    this.cache.clear();
  }

  /** Bearer token from the Authorization header → principal, or a 401 that never echoes the key. */
  async authenticate(authorization: string | undefined, nowMs = Date.now()): Promise<Principal> {
    if (!authorization) {
      throw unauthenticated('You didn\'t provide an API key. Send it as "Authorization: Bearer <key>".');
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    const key = match?.[1];
    if (!key) throw unauthenticated('Incorrect API key provided.');
    const keyHash = hashKey(key);
    const fixed = this.statics.get(keyHash);
    if (fixed) {
      const expires = this.expiresAt.get(fixed.keyId);
      if (expires !== undefined && nowMs >= expires)
        throw new KeyRefusedError('This API key has expired.', fixed);
      return fixed;
    }
    const cached = this.cache.get(keyHash) ?? (await this.lookup(keyHash));
    const record = cached.record;
    if (!record || !cached.principal) throw unauthenticated('Incorrect API key provided.');
    // Any revocation counts at once, whatever time it carries: it was stamped by the clock of
    // whichever replica made it, which may run ahead of this one.
    const known = { keyId: record.id, keyName: record.name };
    if (record.revokedAtMs !== null) throw new KeyRefusedError('This API key has been revoked.', known);
    if (record.expiresAtMs !== null && nowMs >= record.expiresAtMs) {
      throw new KeyRefusedError('This API key has expired.', known);
    }
    return cached.principal;
  }

  /**
   * Reads the key from the store. When a change landed while it read (the generation moved), the
   * answer may predate it: read again, so this request too sees the change; cache only a
   * reading no change overlapped.
   */
  private async lookup(keyHash: string): Promise<CachedKey> {
    if (!this.store) return { record: undefined, principal: undefined };
    for (let attempt = 1; ; attempt++) {
      const generation = this.generation;
      let record: KeyRecord | undefined;
      try {
        record = await this.store.findKeyByHash(keyHash);
      } catch {
        throw new GatewayError(
          'shared_state_unavailable',
          'the key store is unavailable; retry the request',
          {
            retryAfterMs: 1000,
          },
        );
      }
      const entry: CachedKey = { record, principal: record ? this.principalOf(record) : undefined };
      if (generation !== this.generation) {
        // Under a storm of changes, answer the freshest reading rather than loop for ever (uncached).
        if (attempt < LOOKUP_ATTEMPTS) continue;
        return entry;
      }
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(keyHash, entry);
      return entry;
    }
  }

  principalOf(record: KeyRecord): Principal {
    return {
      keyId: record.id,
      keyName: record.name,
      key: {
        models: record.models ? new Set(record.models) : undefined,
        ...(record.rpm === null ? {} : { rpm: record.rpm }),
        ...(record.tpm === null ? {} : { tpm: record.tpm }),
        ...(record.budget === null ? {} : { budget: record.budget }),
        ...(record.boundary === null ? {} : { boundary: record.boundary }),
      },
      team: record.team === null ? undefined : (this.teams.get(record.team) ?? unconfiguredTeam(record.team)),
    };
  }
}

function policyOf(x: KeyConfig | TeamConfig): Policy {
  return {
    models: x.models ? new Set(x.models) : undefined,
    ...(x.rpm === undefined ? {} : { rpm: x.rpm }),
    ...(x.tpm === undefined ? {} : { tpm: x.tpm }),
    ...(x.budget === undefined ? {} : { budget: x.budget }),
    ...(x.boundary === undefined ? {} : { boundary: x.boundary }),
  };
}

/** The rule that refuses a model, if any: the key's list, then the team's. */
export function modelRefusal(principal: Principal, model: string): string | undefined {
  if (principal.key.models && !principal.key.models.has(model)) {
    return `key "${principal.keyName}" is not allowed to use model "${model}" (keys[].models)`;
  }
  const team = principal.team;
  if (team?.unconfigured) {
    return `team "${team.name}" of key "${principal.keyName}" is not configured (teams[]): add it back or move the key to another team`;
  }
  if (team?.models && !team.models.has(model)) {
    return `team "${team.name}" is not allowed to use model "${model}" (teams[].models)`;
  }
  return undefined;
}
