/**
 * Budget alerts at 50, 80 and 100% of each budget, once per budget and period across every
 * replica: to the operator log, to /metrics, and to an optional webhook. The webhook is POSTed
 * in the background with retries; a slow or failing webhook never holds up a request, and at
 * most a bounded number of alerts wait for it.
 */
import type { Logger } from '../telemetry/log.ts';

export const ALERT_THRESHOLDS = [50, 80, 100] as const;

export interface BudgetAlert {
  type: 'budget_alert';
  /** `key` or `team`. */
  scope: 'key' | 'team';
  /** The key's or team's name. */
  name: string;
  period: string;
  thresholdPercent: number;
  spentUsd: number;
  limitUsd: number;
  mode: 'hard' | 'soft';
  time: string;
}

const MAX_QUEUED = 1000;
const ATTEMPTS = 5;
const TIMEOUT_MS = 5000;

export class WebhookSender {
  private readonly url: string;
  private readonly log: Logger;
  private readonly queue: BudgetAlert[] = [];
  private sending = false;
  private readonly backoffMs: number;
  dropped = 0;
  delivered = 0;
  failed = 0;

  constructor(url: string, log: Logger, backoffMs = 1000) {
    this.url = url;
    this.log = log;
    this.backoffMs = backoffMs;
  }

  send(alert: BudgetAlert): void {
    if (this.queue.length >= MAX_QUEUED) {
      this.dropped++;
      return;
    }
    this.queue.push(alert);
    if (!this.sending) void this.drain();
  }

  /** Resolves once everything queued was delivered or given up (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.sending || this.queue.length > 0) await new Promise((r) => setTimeout(r, 20));
  }

  private async drain(): Promise<void> {
    this.sending = true;
    try {
      while (this.queue.length > 0) {
        const alert = this.queue.shift()!;
        if (await this.deliver(alert)) this.delivered++;
        else {
          this.failed++;
          this.log.warn('budget_alert_webhook_failed', {
            scope: alert.scope,
            name: alert.name,
            attempts: ATTEMPTS,
          });
        }
      }
    } finally {
      this.sending = false;
    }
  }

  private async deliver(alert: BudgetAlert): Promise<boolean> {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      try {
        const response = await fetch(this.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(alert),
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
        await response.body?.cancel();
        if (response.ok) return true;
        // A 4xx other than 429 will not get better by retrying.
        if (response.status < 500 && response.status !== 429) return false;
      } catch {
        // Network error or timeout: retried below.
      }
      await new Promise((r) => setTimeout(r, this.backoffMs * 2 ** attempt).unref());
    }
    return false;
  }
}
