/**
 * Caps retries at a share of recent requests, so an upstream outage cannot multiply the load on
 * the next cloud (a retry storm). Counts live in one-second buckets over a ten-second window; a
 * small floor lets a quiet gateway still fail over.
 */
export class RetryBudget {
  private readonly requests = new Float64Array(10);
  private readonly retries = new Float64Array(10);
  private currentSecond = 0;

  private readonly percent: number;
  private readonly minRetriesPerWindow: number;

  constructor(percent: number, minRetriesPerWindow = 10) {
    this.percent = percent;
    this.minRetriesPerWindow = minRetriesPerWindow;
  }

  private advance(nowMs: number): number {
    const second = Math.floor(nowMs / 1000);
    if (second - this.currentSecond >= 10) {
      this.requests.fill(0);
      this.retries.fill(0);
    } else {
      for (let s = this.currentSecond + 1; s <= second; s++) {
        this.requests[s % 10] = 0;
        this.retries[s % 10] = 0;
      }
    }
    this.currentSecond = Math.max(this.currentSecond, second);
    return this.currentSecond % 10;
  }

  recordRequest(nowMs: number): void {
    const slot = this.advance(nowMs);
    this.requests[slot] = (this.requests[slot] ?? 0) + 1;
  }

  /** Takes one retry from the budget when there is one left. */
  tryRetry(nowMs: number): boolean {
    const slot = this.advance(nowMs);
    const requests = this.requests.reduce((a, b) => a + b, 0);
    const retries = this.retries.reduce((a, b) => a + b, 0);
    if (retries >= Math.max(this.minRetriesPerWindow, (requests * this.percent) / 100)) return false;
    this.retries[slot] = (this.retries[slot] ?? 0) + 1;
    return true;
  }
}
