import { createHash } from 'node:crypto';
import type { KeyConfig } from '../config/schema.ts';
import { GatewayError } from '../core/errors.ts';

/** Who is calling, and what they may use. */
export interface Principal {
  keyName: string;
  team: string | undefined;
  /** Allowed logical model names; undefined means all. */
  models: ReadonlySet<string> | undefined;
}

/** Keys are indexed by their SHA-256 only: plaintext keys are not kept after start-up. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** Presented keys remembered after a successful lookup, so the hot path skips SHA-256. */
const RECENT_KEYS_LIMIT = 10_000;

export class KeyIndex {
  private readonly byHash = new Map<string, Principal>();
  /** Bounded, and holds only keys that matched: unknown keys cannot grow it. */
  private readonly recent = new Map<string, Principal>();

  constructor(keys: readonly KeyConfig[]) {
    for (const k of keys) {
      this.byHash.set(hashKey(k.key), {
        keyName: k.name,
        team: k.team,
        models: k.models ? new Set(k.models) : undefined,
      });
    }
  }

  /** Bearer token from the Authorization header → principal, or a 401 that never echoes the key. */
  authenticate(authorization: string | undefined): Principal {
    if (!authorization) {
      throw new GatewayError(
        'invalid_api_key',
        'You didn\'t provide an API key. Send it as "Authorization: Bearer <key>".',
      );
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    const key = match?.[1];
    if (!key) throw new GatewayError('invalid_api_key', 'Incorrect API key provided.');
    const cached = this.recent.get(key);
    if (cached) return cached;
    const principal = this.byHash.get(hashKey(key));
    if (!principal) throw new GatewayError('invalid_api_key', 'Incorrect API key provided.');
    if (this.recent.size >= RECENT_KEYS_LIMIT) this.recent.clear();
    this.recent.set(key, principal);
    return principal;
  }
}

export function mayUseModel(principal: Principal, model: string): boolean {
  return principal.models === undefined || principal.models.has(model);
}
