/**
 * Deployment rpm/tpm use shared by every replica through the limit store (Redis). Reads never
 * wait on Redis on a request's path: the sums of the capacity-limited deployments are refreshed in
 * the background every REFRESH_MS, and this replica's own charges since the last refresh are added
 * on top, so its view is exact for its own traffic and at most REFRESH_MS behind the others'.
 * When Redis cannot be read for STALE_MS, reads answer undefined and each replica's own windows
 * decide again (capacity is a hint; it fails open).
 */
import type { SharedUsage } from '../routing/deployment-state.ts';
import type { LimitStore } from './types.ts';

export const REFRESH_MS = 250;
const STALE_MS = 2000;

interface Shared {
  requests: number;
  tokens: number;
  freesAtMs: number;
}

const requestsWindow = (key: string) => `deployment:${key}:requests`;
const tokensWindow = (key: string) => `deployment:${key}:tokens`;

export class SharedDeploymentUsage implements SharedUsage {
  private readonly store: LimitStore;
  private readonly keys: readonly string[];
  private readonly onError: (operation: string) => void;
  private snapshot = new Map<string, Shared>();
  private snapshotAtMs = 0;
  /** This replica's charges since the snapshot was read. */
  private readonly local = new Map<string, { requests: number; tokens: number }>();
  private timer: NodeJS.Timeout | undefined;
  private refreshing = false;

  /** `keys`: the deployments with a configured rpm or tpm (the only ones whose use routing reads). */
  constructor(store: LimitStore, keys: readonly string[], onError: (operation: string) => void) {
    this.store = store;
    this.keys = keys;
    this.onError = onError;
  }

  start(): void {
    if (this.keys.length === 0 || this.timer) return;
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), REFRESH_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  async refresh(nowMs = Date.now()): Promise<void> {
    if (this.refreshing) return;
    this.refreshing = true;
    try {
      const names = this.keys.flatMap((k) => [requestsWindow(k), tokensWindow(k)]);
      const states = await this.store.windows(names, nowMs);
      const next = new Map<string, Shared>();
      this.keys.forEach((key, i) => {
        const requests = states[2 * i];
        const tokens = states[2 * i + 1];
        if (!requests || !tokens) return;
        next.set(key, {
          requests: requests.used,
          tokens: tokens.used,
          freesAtMs: Math.min(requests.freesAtMs, tokens.freesAtMs),
        });
      });
      this.snapshot = next;
      this.snapshotAtMs = nowMs;
      this.local.clear();
    } catch {
      this.onError('deployment_usage');
    } finally {
      this.refreshing = false;
    }
  }

  read(key: string, nowMs: number): { rpmUsed: number; tpmUsed: number; freesAtMs: number } | undefined {
    if (nowMs - this.snapshotAtMs > STALE_MS) return undefined;
    const shared = this.snapshot.get(key);
    if (!shared) return undefined;
    const mine = this.local.get(key);
    return {
      rpmUsed: shared.requests + (mine?.requests ?? 0),
      tpmUsed: shared.tokens + (mine?.tokens ?? 0),
      freesAtMs: shared.freesAtMs,
    };
  }

  charge(key: string, tokens: number, nowMs: number): void {
    if (!this.keys.includes(key)) return;
    const mine = this.local.get(key) ?? { requests: 0, tokens: 0 };
    mine.requests += 1;
    mine.tokens += tokens;
    this.local.set(key, mine);
    this.store
      .charge(
        [
          { name: requestsWindow(key), amount: 1 },
          { name: tokensWindow(key), amount: tokens },
        ],
        nowMs,
      )
      .catch(() => this.onError('deployment_usage'));
  }

  settle(key: string, atMs: number, deltaTokens: number, nowMs: number): void {
    if (!this.keys.includes(key) || deltaTokens === 0) return;
    const mine = this.local.get(key);
    if (mine) mine.tokens += deltaTokens;
    this.store
      .settle({
        id: 'deployment-usage',
        nowMs,
        windows: [{ name: tokensWindow(key), atMs, delta: deltaTokens }],
        budgets: [],
      })
      .catch(() => this.onError('deployment_usage'));
  }
}
