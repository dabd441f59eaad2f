import type { FailureKind } from '../core/upstream.ts';
import type { DeploymentHealthView } from './types.ts';

export interface BreakerSettings {
  failureThreshold: number;
  cooldownMs: number;
}

interface HealthRecord {
  consecutiveFailures: number;
  openedAtMs: number | undefined;
  /** A half-open circuit lets one probe through; others wait for its outcome. */
  probing: boolean;
  throttledUntilMs: number;
  inFlight: number;
  latencyEwmaMs: number | undefined;
}

/** Failures that say the deployment is unhealthy. Throttling is capacity, not health. */
const COUNTS_AGAINST_HEALTH: ReadonlySet<FailureKind> = new Set([
  'server',
  'overloaded',
  'connection',
  'timeout',
  'protocol',
  'auth',
  'not_found',
]);

/** How long a 429 without retry-after keeps a deployment out of plans. */
const DEFAULT_THROTTLE_MS = 1000;
const EWMA_ALPHA = 0.2;

/**
 * In-process deployment health: circuit breaker, capacity cool-down after 429, in-flight count and
 * latency EWMA. A shared implementation for several replicas comes with the routing-engine issue.
 */
export class HealthTracker {
  private readonly records = new Map<string, HealthRecord>();

  private record(key: string): HealthRecord {
    let record = this.records.get(key);
    if (!record) {
      record = {
        consecutiveFailures: 0,
        openedAtMs: undefined,
        probing: false,
        throttledUntilMs: 0,
        inFlight: 0,
        latencyEwmaMs: undefined,
      };
      this.records.set(key, record);
    }
    return record;
  }

  /** Closed, open (cooling down, or its one probe is out) or half-open (ready for a probe). */
  #circuit(r: HealthRecord, breaker: BreakerSettings, nowMs: number): DeploymentHealthView['circuit'] {
    if (r.openedAtMs === undefined) return 'closed';
    return nowMs - r.openedAtMs >= breaker.cooldownMs && !r.probing ? 'half-open' : 'open';
  }

  view(key: string, breaker: BreakerSettings, nowMs: number): DeploymentHealthView {
    const r = this.record(key);
    return {
      circuit: this.#circuit(r, breaker, nowMs),
      throttledUntilMs: r.throttledUntilMs,
      inFlight: r.inFlight,
      latencyEwmaMs: r.latencyEwmaMs,
    };
  }

  /**
   * Admits an attempt, or refuses it when the circuit is open: before the cooldown has passed, or
   * while another attempt is already the half-open probe. Plans are made before attempts start, so
   * this is the one place that guarantees a single probe. The answer says whether this is the probe.
   */
  admit(key: string, breaker: BreakerSettings, nowMs: number): { probe: boolean } | undefined {
    if (this.#circuit(this.record(key), breaker, nowMs) === 'open') return undefined;
    return { probe: this.begin(key) };
  }

  /** Counts an attempt in flight without asking the circuit; see admit(). */
  begin(key: string): boolean {
    const r = this.record(key);
    r.inFlight++;
    if (r.openedAtMs === undefined) return false;
    r.probing = true;
    return true;
  }

  /** The attempt produced its first output: the deployment is healthy. */
  succeeded(key: string, latencyMs: number): void {
    const r = this.record(key);
    r.consecutiveFailures = 0;
    r.openedAtMs = undefined;
    r.probing = false;
    r.latencyEwmaMs =
      r.latencyEwmaMs === undefined
        ? latencyMs
        : r.latencyEwmaMs + EWMA_ALPHA * (latencyMs - r.latencyEwmaMs);
  }

  /** The attempt failed, before or after its first output. */
  failed(
    key: string,
    kind: FailureKind,
    breaker: BreakerSettings,
    nowMs: number,
    retryAfterMs?: number,
  ): void {
    const r = this.record(key);
    if (kind === 'throttled') {
      r.throttledUntilMs = Math.max(r.throttledUntilMs, nowMs + (retryAfterMs ?? DEFAULT_THROTTLE_MS));
    } else if (COUNTS_AGAINST_HEALTH.has(kind)) {
      r.consecutiveFailures++;
      // Any failure while a probe is out re-opens the circuit for a fresh cooldown.
      if (r.probing || r.consecutiveFailures >= breaker.failureThreshold) r.openedAtMs = nowMs;
    }
  }

  /** The attempt is over, whatever its outcome; `probe` is what begin() answered for it. */
  end(key: string, probe = false): void {
    const r = this.record(key);
    r.inFlight = Math.max(0, r.inFlight - 1);
    if (probe) r.probing = false;
  }
}
