/**
 * Cloud-neutral fault script. Faults are queued and consumed in order by inference requests
 * (chat completions, embeddings); `/_sim/*`, model listings and token endpoints never consume
 * them, so a listing done by a client does not eat a fault meant for the next completion.
 * Each protocol module renders a `status` fault as its cloud's native error body, and a
 * `stream_error` fault as its cloud's own in-band error (see src/sim/README.md).
 */

import { z } from 'zod';

const matchSchema = z.object({ model: z.string().optional() }).strict();
const common = {
  /** How many requests this fault applies to; 'always' keeps it until cleared. Default 1. */
  times: z.union([z.number().int().positive(), z.literal('always')]).optional(),
  /** Only requests for this model id / deployment name consume the fault. */
  match: matchSchema.optional(),
  /**
   * Chance (0 to 1) that a matching request is hit; one it spares goes on to the next fault.
   * Absent: every matching request is hit. `times` counts only the requests hit.
   */
  probability: z.number().min(0).max(1).optional(),
};

export const simFaultSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('status'),
      status: z.number().int().min(400).max(599),
      /** For 429: defaults to 1000 (sent as retry-after and retry-after-ms); null omits the headers. */
      retryAfterMs: z.number().int().nonnegative().nullable().optional(),
      /** Overrides the native error message. */
      message: z.string().optional(),
      ...common,
    })
    .strict(),
  z.object({ kind: z.literal('reset'), ...common }).strict(),
  z.object({ kind: z.literal('hang'), ...common }).strict(),
  z.object({ kind: z.literal('cut'), afterChunks: z.number().int().nonnegative(), ...common }).strict(),
  /** Answered normally, but the response headers (a stream's first event) only after `ms`. */
  z.object({ kind: z.literal('delay'), ms: z.number().int().nonnegative(), ...common }).strict(),
  z
    .object({
      kind: z.literal('stream_error'),
      /** Events sent before the error, after the stream's opening event where the cloud has one. */
      afterChunks: z.number().int().nonnegative(),
      /** Which failure the in-band error reports, as the HTTP status it stands for. Default 503. */
      status: z.union([z.literal(429), z.literal(500), z.literal(503)]).optional(),
      ...common,
    })
    .strict(),
  z
    .object({
      kind: z.literal('redirect'),
      status: z.union([z.literal(301), z.literal(302), z.literal(307), z.literal(308)]),
      /** Default: the same URL over https on the same host (the classic misconfigured endpoint). */
      location: z.string().min(1).optional(),
      ...common,
    })
    .strict(),
]);

export type SimFault = z.infer<typeof simFaultSchema>;
export type StatusFault = Extract<SimFault, { kind: 'status' }>;
export type StreamErrorFault = Extract<SimFault, { kind: 'stream_error' }>;
export type RedirectFault = Extract<SimFault, { kind: 'redirect' }>;

/**
 * The status fault a `stream_error` stands for: what the in-band error reports, and what a
 * non-streaming request that takes the fault is answered with (it has no stream to break).
 */
export function statusOfStreamError(fault: StreamErrorFault): StatusFault {
  return { kind: 'status', status: fault.status ?? 503 };
}

export const faultListSchema = z.object({ faults: z.array(simFaultSchema) }).strict();

/** Default retry-after for a 429 fault that does not say. */
export const DEFAULT_RETRY_AFTER_MS = 1000;

export function retryAfterOf(fault: StatusFault): number | undefined {
  if (fault.retryAfterMs === null) return undefined;
  return fault.retryAfterMs ?? (fault.status === 429 ? DEFAULT_RETRY_AFTER_MS : undefined);
}

/** Headers a throttling answer carries: seconds (rounded up) and the exact milliseconds. */
export function retryAfterHeaders(retryAfterMs: number | undefined): Record<string, string> {
  if (retryAfterMs === undefined) return {};
  return { 'retry-after': String(Math.ceil(retryAfterMs / 1000)), 'retry-after-ms': String(retryAfterMs) };
}

interface Entry {
  fault: SimFault;
  remaining: number | 'always';
}

export class FaultQueue {
  #entries: Entry[] = [];
  readonly #random: () => number;

  /** `random`: [0, 1), decides faults with a `probability`; injectable so a test can replay a run. */
  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  add(faults: SimFault[]): void {
    for (const fault of faults) this.#entries.push({ fault, remaining: fault.times ?? 1 });
  }

  clear(): void {
    this.#entries = [];
  }

  /** The faults still pending, in the order they will apply. */
  pending(): SimFault[] {
    return this.#entries.map((e) =>
      e.remaining === 'always' ? e.fault : { ...e.fault, times: e.remaining },
    );
  }

  /** Consumes and returns the first fault that applies to a request for `model`, if any. */
  take(model: string | undefined): SimFault | undefined {
    if (this.#entries.length === 0) return undefined;
    const index = this.#entries.findIndex(
      (e) =>
        (e.fault.match?.model === undefined || e.fault.match.model === model) &&
        (e.fault.probability === undefined || this.#random() < e.fault.probability),
    );
    if (index === -1) return undefined;
    const entry = this.#entries[index]!;
    if (entry.remaining !== 'always') {
      entry.remaining -= 1;
      if (entry.remaining <= 0) this.#entries.splice(index, 1);
    }
    return entry.fault;
  }
}
