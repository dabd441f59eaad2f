import type { RoutingSettings } from '../config/schema.ts';
import type { CapacitySignal, FailureKind } from '../core/upstream.ts';
import type { DeploymentView } from './types.ts';
import { MinuteWindow, RateWindow } from './windows.ts';

export type BreakerSettings = RoutingSettings['circuitBreaker'];

/** Failures that say the deployment is unhealthy. Throttling is capacity, not health. */
const COUNTS_AGAINST_HEALTH: ReadonlySet<FailureKind> = new Set([
  'server',
  'overloaded',
  'connection',
  'timeout',
  'protocol',
  'auth',
  'not_found',
  'redirect',
]);

/** How long a 429, or a remaining count of 0, keeps a deployment out of plans when the cloud names no time. */
const DEFAULT_THROTTLE_MS = 1000;
const EWMA_ALPHA = 0.2;

interface DeploymentRecord {
  consecutiveFailures: number;
  openedAtMs: number | undefined;
  /** A half-open circuit lets one probe through; others wait for its outcome. */
  probing: boolean;
  /** Health outcomes (successes and health failures) over the breaker's window. */
  outcomes: RateWindow;
  throttledUntilMs: number;
  inFlight: number;
  ttftEwmaMs: number | undefined;
  latencyEwmaMs: number | undefined;
  requests: MinuteWindow;
  tokens: MinuteWindow;
  /** The cloud's last word on its remaining capacity, and when it said it. */
  reported: (CapacitySignal & { atMs: number }) | undefined;
  /**
   * What the cloud said is left, less what was sent since (requests, estimated tokens), so a burst
   * does not spend more than is left before the next answer says so. Undefined: nothing reported,
   * or its reset time has passed.
   */
  leftRequests: number | undefined;
  leftTokens: number | undefined;
}

/**
 * Deployment usage shared with other replicas (Redis). `read` answers what every replica sent to a
 * deployment in the last minute as far as it knows, or undefined when it does not know (then this
 * replica's own windows decide: capacity fails open). `charge` and `settle` mirror this replica's
 * own charges there.
 */
export interface SharedUsage {
  read(key: string, nowMs: number): { rpmUsed: number; tpmUsed: number; freesAtMs: number } | undefined;
  charge(key: string, tokens: number, nowMs: number): void;
  settle(key: string, atMs: number, deltaTokens: number, nowMs: number): void;
}

/** What begin() hands out: settle the token estimate once the real usage is known. */
export interface CapacityTicket {
  /** Second bucket the estimate went into, so the correction lands in the same place. */
  readonly atMs: number;
  readonly estimatedTokens: number;
}

/**
 * Per-deployment state in this process: circuit breaker (consecutive failures and failure rate
 * over a window), capacity (rpm/tpm used over a sliding minute, and cool-downs from 429s or from
 * the clouds' remaining-capacity headers), in-flight attempts and latency averages. Only the
 * cloud's own failures may change health; the attempt loop decides what is the cloud's.
 */
export class DeploymentStates {
  private readonly records = new Map<string, DeploymentRecord>();
  private readonly shared: SharedUsage | undefined;

  constructor(shared?: SharedUsage) {
    this.shared = shared;
  }

  private record(key: string): DeploymentRecord {
    let r = this.records.get(key);
    if (!r) {
      r = {
        consecutiveFailures: 0,
        openedAtMs: undefined,
        probing: false,
        outcomes: new RateWindow(),
        throttledUntilMs: 0,
        inFlight: 0,
        ttftEwmaMs: undefined,
        latencyEwmaMs: undefined,
        requests: new MinuteWindow(),
        tokens: new MinuteWindow(),
        reported: undefined,
        leftRequests: undefined,
        leftTokens: undefined,
      };
      this.records.set(key, r);
    }
    return r;
  }

  #circuit(r: DeploymentRecord, breaker: BreakerSettings, nowMs: number): DeploymentView['circuit'] {
    if (r.openedAtMs === undefined) return 'closed';
    return nowMs - r.openedAtMs >= breaker.cooldownMs && !r.probing ? 'half-open' : 'open';
  }

  view(key: string, breaker: BreakerSettings, nowMs: number): DeploymentView {
    const r = this.record(key);
    const shared = this.shared?.read(key, nowMs);
    return {
      circuit: this.#circuit(r, breaker, nowMs),
      circuitRetryAtMs: r.openedAtMs === undefined ? undefined : r.openedAtMs + breaker.cooldownMs,
      throttledUntilMs: r.throttledUntilMs,
      inFlight: r.inFlight,
      ttftEwmaMs: r.ttftEwmaMs,
      latencyEwmaMs: r.latencyEwmaMs,
      rpmUsed: shared?.rpmUsed ?? r.requests.sum(nowMs),
      tpmUsed: shared?.tpmUsed ?? r.tokens.sum(nowMs),
      windowFreesAtMs: shared?.freesAtMs ?? Math.min(r.requests.freesAtMs(nowMs), r.tokens.freesAtMs(nowMs)),
    };
  }

  /**
   * Admits an attempt, or refuses it when the circuit is open: before the cooldown has passed, or
   * while another attempt is already the half-open probe. Plans are made before attempts start, so
   * this is the one place that guarantees a single probe. The answer says whether this is the probe.
   */
  admit(key: string, breaker: BreakerSettings, nowMs: number): { probe: boolean } | undefined {
    const r = this.record(key);
    if (this.#circuit(r, breaker, nowMs) === 'open') return undefined;
    r.inFlight++;
    if (r.openedAtMs === undefined) return { probe: false };
    r.probing = true;
    return { probe: true };
  }

  /**
   * Counts a request and its estimated tokens against the deployment's minute window, and against
   * what the cloud last said is left: the request that takes the last of it makes the deployment
   * full until the cloud's reset.
   */
  charge(key: string, estimatedTokens: number, nowMs: number): CapacityTicket {
    const r = this.record(key);
    r.requests.add(1, nowMs);
    r.tokens.add(estimatedTokens, nowMs);
    this.shared?.charge(key, estimatedTokens, nowMs);
    if (r.leftRequests !== undefined) r.leftRequests -= 1;
    if (r.leftTokens !== undefined) r.leftTokens -= estimatedTokens;
    throttleWhenSpent(r, nowMs);
    return { atMs: nowMs, estimatedTokens };
  }

  /** Replaces a ticket's estimate with the real token count. */
  settle(key: string, ticket: CapacityTicket, actualTokens: number, nowMs: number): void {
    this.record(key).tokens.adjust(actualTokens - ticket.estimatedTokens, ticket.atMs, nowMs);
    this.shared?.settle(key, ticket.atMs, actualTokens - ticket.estimatedTokens, nowMs);
  }

  /**
   * The attempt produced its first output: the deployment is healthy. `probe` is what admit()
   * answered for it (absent: whether a probe is out now). While the circuit is open only the probe
   * may close it: an attempt admitted before the circuit opened says nothing about the health
   * seen since, and its late success must not let the traffic back in.
   */
  succeeded(
    key: string,
    latencyMs: number,
    stream: boolean,
    breaker: BreakerSettings,
    nowMs: number,
    probe = this.record(key).probing,
  ): void {
    const r = this.record(key);
    if (stream) r.ttftEwmaMs = ewma(r.ttftEwmaMs, latencyMs);
    else r.latencyEwmaMs = ewma(r.latencyEwmaMs, latencyMs);
    if (r.openedAtMs !== undefined && !probe) return;
    r.consecutiveFailures = 0;
    r.openedAtMs = undefined;
    r.probing = false;
    r.outcomes.add(false, breaker.windowMs, nowMs);
  }

  /**
   * An attempt lost a hedge race after `latencyMs` without output: its latency is at least that.
   * Only a bound above the average moves it (a hedge that lost quickly says nothing).
   */
  slowerThan(key: string, latencyMs: number, stream: boolean): void {
    const r = this.record(key);
    const average = stream ? r.ttftEwmaMs : r.latencyEwmaMs;
    if (average !== undefined && latencyMs <= average) return;
    if (stream) r.ttftEwmaMs = ewma(average, latencyMs);
    else r.latencyEwmaMs = ewma(average, latencyMs);
  }

  /**
   * The attempt failed, before or after its first output. Only the cloud's own failures come here.
   * `probe` is what admit() answered for it (absent: whether a probe is out now): a failed probe
   * re-opens the circuit for a fresh cooldown.
   */
  failed(
    key: string,
    kind: FailureKind,
    breaker: BreakerSettings,
    nowMs: number,
    retryAfterMs?: number,
    probe = this.record(key).probing,
  ): void {
    const r = this.record(key);
    if (kind === 'throttled') {
      r.throttledUntilMs = Math.max(r.throttledUntilMs, nowMs + (retryAfterMs ?? DEFAULT_THROTTLE_MS));
      return;
    }
    if (!COUNTS_AGAINST_HEALTH.has(kind)) return;
    r.consecutiveFailures++;
    r.outcomes.add(true, breaker.windowMs, nowMs);
    const { total, failures } = r.outcomes.counts(breaker.windowMs, nowMs);
    const rateTripped =
      total >= breaker.minimumRequests && failures * 100 >= breaker.failureRatePercent * total;
    if (probe || r.consecutiveFailures >= breaker.failureThreshold || rateTripped) {
      if (r.openedAtMs === undefined || probe) r.outcomes.clear();
      r.openedAtMs = nowMs;
    }
  }

  /**
   * What the cloud said about its remaining capacity on an answer. A count at zero keeps the
   * deployment out of plans until the cloud's reset time (or a short default when it names none),
   * so traffic moves before the cloud starts refusing.
   */
  observeCapacity(key: string, signal: CapacitySignal, nowMs: number): void {
    const r = this.record(key);
    r.reported = { ...signal, atMs: nowMs };
    // The other attempts in flight may have reached the cloud after this one was counted: taking
    // them off as well errs towards spilling over a little early rather than meeting a 429.
    const others = Math.max(0, r.inFlight - 1);
    r.leftRequests = signal.remainingRequests === undefined ? undefined : signal.remainingRequests - others;
    r.leftTokens = signal.remainingTokens;
    throttleWhenSpent(r, nowMs);
  }

  /** The attempt is over, whatever its outcome; `probe` is what admit() answered for it. */
  end(key: string, probe: boolean): void {
    const r = this.record(key);
    r.inFlight = Math.max(0, r.inFlight - 1);
    if (probe) r.probing = false;
  }

  /** What the cloud last said about its remaining capacity (for `/admin/deployments`). */
  reported(key: string): (CapacitySignal & { atMs: number }) | undefined {
    return this.records.get(key)?.reported;
  }
}

/**
 * A remaining count at or below zero keeps the deployment out of plans until the cloud's reset
 * (or a short default when it names none); a count whose reset has passed is forgotten.
 */
function throttleWhenSpent(r: DeploymentRecord, nowMs: number): void {
  const reported = r.reported;
  if (!reported) return;
  const spent = (left: number | undefined, resetAtMs: number | undefined): number | undefined => {
    if (left === undefined || left > 0) return undefined;
    return resetAtMs ?? nowMs + DEFAULT_THROTTLE_MS;
  };
  if (reported.requestsResetAtMs !== undefined && nowMs >= reported.requestsResetAtMs)
    r.leftRequests = undefined;
  if (reported.tokensResetAtMs !== undefined && nowMs >= reported.tokensResetAtMs) r.leftTokens = undefined;
  for (const until of [
    spent(r.leftRequests, reported.requestsResetAtMs),
    spent(r.leftTokens, reported.tokensResetAtMs),
  ]) {
    if (until !== undefined) r.throttledUntilMs = Math.max(r.throttledUntilMs, until);
  }
}

function ewma(previous: number | undefined, sample: number): number {
  return previous === undefined ? sample : previous + EWMA_ALPHA * (sample - previous);
}
