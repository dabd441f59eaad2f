/**
 * Sliding windows made of fixed buckets: constant memory per deployment, constant work per event,
 * and close enough to exact for capacity and failure rates (one bucket of granularity).
 */

const MINUTE_BUCKETS = 60;
const BUCKET_MS = 1000;

/** A sum over the last minute in one-second buckets (requests or tokens sent to a deployment). */
export class MinuteWindow {
  private readonly buckets = new Float64Array(MINUTE_BUCKETS);
  /** The second each bucket currently holds, so stale buckets read as empty without a sweep. */
  private readonly seconds = new Float64Array(MINUTE_BUCKETS).fill(-1);

  add(amount: number, nowMs: number): void {
    const second = Math.floor(nowMs / BUCKET_MS);
    const slot = second % MINUTE_BUCKETS;
    if (this.seconds[slot] !== second) {
      this.seconds[slot] = second;
      this.buckets[slot] = 0;
    }
    this.buckets[slot] = (this.buckets[slot] ?? 0) + amount;
  }

  /** Corrects an amount added at `atMs`, when that second is still inside the window. */
  adjust(delta: number, atMs: number, nowMs: number): void {
    const second = Math.floor(atMs / BUCKET_MS);
    if (Math.floor(nowMs / BUCKET_MS) - second >= MINUTE_BUCKETS) return;
    const slot = second % MINUTE_BUCKETS;
    if (this.seconds[slot] !== second) return;
    this.buckets[slot] = Math.max(0, (this.buckets[slot] ?? 0) + delta);
  }

  sum(nowMs: number): number {
    const now = Math.floor(nowMs / BUCKET_MS);
    let total = 0;
    for (let i = 0; i < MINUTE_BUCKETS; i++) {
      const second = this.seconds[i] ?? -1;
      if (second > now - MINUTE_BUCKETS && second <= now) total += this.buckets[i] ?? 0;
    }
    return total;
  }

  /** When the oldest non-empty second leaves the window (epoch ms); now when the window is empty. */
  freesAtMs(nowMs: number): number {
    const now = Math.floor(nowMs / BUCKET_MS);
    let oldest = Number.POSITIVE_INFINITY;
    for (let i = 0; i < MINUTE_BUCKETS; i++) {
      const second = this.seconds[i] ?? -1;
      if (second > now - MINUTE_BUCKETS && second <= now && (this.buckets[i] ?? 0) > 0) {
        oldest = Math.min(oldest, second);
      }
    }
    return oldest === Number.POSITIVE_INFINITY ? nowMs : (oldest + MINUTE_BUCKETS) * BUCKET_MS;
  }
}

const RATE_BUCKETS = 10;

/** Successes and failures over a window of `windowMs`, in ten buckets (the breaker's failure rate). */
export class RateWindow {
  private readonly totals = new Float64Array(RATE_BUCKETS);
  private readonly failures = new Float64Array(RATE_BUCKETS);
  private readonly epochs = new Float64Array(RATE_BUCKETS).fill(-1);

  add(failed: boolean, windowMs: number, nowMs: number): void {
    const epoch = Math.floor(nowMs / (windowMs / RATE_BUCKETS));
    const slot = epoch % RATE_BUCKETS;
    if (this.epochs[slot] !== epoch) {
      this.epochs[slot] = epoch;
      this.totals[slot] = 0;
      this.failures[slot] = 0;
    }
    this.totals[slot] = (this.totals[slot] ?? 0) + 1;
    if (failed) this.failures[slot] = (this.failures[slot] ?? 0) + 1;
  }

  counts(windowMs: number, nowMs: number): { total: number; failures: number } {
    const now = Math.floor(nowMs / (windowMs / RATE_BUCKETS));
    let total = 0;
    let failures = 0;
    for (let i = 0; i < RATE_BUCKETS; i++) {
      const epoch = this.epochs[i] ?? -1;
      if (epoch > now - RATE_BUCKETS && epoch <= now) {
        total += this.totals[i] ?? 0;
        failures += this.failures[i] ?? 0;
      }
    }
    return { total, failures };
  }

  clear(): void {
    this.epochs.fill(-1);
  }
}
