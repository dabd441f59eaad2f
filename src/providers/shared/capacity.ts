/**
 * Parsers for the capacity headers clouds send on their answers: OpenAI's Go-style durations
 * (`x-ratelimit-reset-requests: 6m0s`) and Anthropic's RFC 3339 times
 * (`anthropic-ratelimit-requests-reset: 2026-01-01T00:00:42Z`). Anything malformed reads as absent:
 * a header we cannot read must never stop a request, it only tells routing less.
 */

import type { IncomingHttpHeaders } from 'node:http';

/** One header's value (the first, when repeated), trimmed; empty reads as absent. */
export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const raw = headers[name];
  const value = (Array.isArray(raw) ? raw[0] : raw)?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** A count such as `9999` (no sign, no exponent, no fraction). */
export function parseCount(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,15}$/.test(value)) return undefined;
  return Number(value);
}

const UNIT_MS: Readonly<Record<string, number>> = {
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
  us: 0.001,
  µs: 0.001,
  ns: 0.000_001,
};
/** `ms` before `m`, `us`/`ns` before `s`: the longest unit wins. */
const DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(ms|us|µs|ns|h|m|s)/y;

/**
 * A Go duration as OpenAI writes its resets (`1s`, `6m0s`, `20ms`, `1h2m3.5s`) → milliseconds.
 * A bare number is read as seconds, as some OpenAI-compatible servers send it.
 */
export function parseGoDuration(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  let total = 0;
  let at = 0;
  while (at < value.length) {
    DURATION_PART.lastIndex = at;
    const match = DURATION_PART.exec(value);
    if (!match) return undefined;
    total += Number(match[1]) * (UNIT_MS[match[2]!] ?? 0);
    at = DURATION_PART.lastIndex;
  }
  return at === 0 ? undefined : Math.round(total);
}

const RFC_3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** An RFC 3339 timestamp (`2026-01-01T00:00:42Z`, `...42.5+02:00`) → epoch milliseconds. */
export function parseRfc3339(value: string | undefined): number | undefined {
  if (value === undefined || !RFC_3339.test(value)) return undefined;
  const ms = Date.parse(value.replace(' ', 'T'));
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * The signal with its undefined fields left out, or undefined when nothing was read. Copied into a
 * fresh object rather than deleted in place: deleting a field that is not the last one added turns
 * an object into a slow dictionary, and this runs on every answer.
 */
export function compact<T extends object>(signal: T): T | undefined {
  const out: Partial<T> = {};
  let empty = true;
  for (const key of Object.keys(signal) as (keyof T)[]) {
    const value = signal[key];
    if (value === undefined) continue;
    out[key] = value;
    empty = false;
  }
  return empty ? undefined : (out as T);
}
