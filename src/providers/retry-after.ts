import type { IncomingHttpHeaders } from 'node:http';

/**
 * Milliseconds to wait, from `retry-after-ms` first, then `retry-after` (seconds or an HTTP
 * date), the order OpenAI's SDK uses. Absent or nonsensical values answer undefined.
 */
export function retryAfterMsFromHeaders(headers: IncomingHttpHeaders, now = Date.now()): number | undefined {
  const ms = Number(headers['retry-after-ms']);
  if (headers['retry-after-ms'] !== undefined && Number.isFinite(ms) && ms >= 0) return Math.ceil(ms);
  const raw = headers['retry-after'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined || value === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
