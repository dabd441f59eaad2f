import type { IncomingHttpHeaders } from 'node:http';

/**
 * Milliseconds to wait, from `retry-after-ms` first, then `retry-after` (seconds or an HTTP
 * date), the order OpenAI's SDK uses. Absent or nonsensical values answer undefined.
 */
export function retryAfterMsFromHeaders(headers: IncomingHttpHeaders, now = Date.now()): number | undefined {
  const ms = header(headers, 'retry-after-ms');
  if (ms !== undefined && NON_NEGATIVE_NUMBER.test(ms)) return Math.ceil(Number(ms));
  const value = header(headers, 'retry-after');
  if (value === undefined) return undefined;
  if (NON_NEGATIVE_NUMBER.test(value)) return Math.ceil(Number(value) * 1000);
  // An HTTP date has a weekday and month name; bare numbers like "-1" are not dates.
  if (!/[a-z]/i.test(value)) return undefined;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

const NON_NEGATIVE_NUMBER = /^\d+(\.\d+)?$/;

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const raw = headers[name];
  const value = (Array.isArray(raw) ? raw[0] : raw)?.trim();
  return value === undefined || value === '' ? undefined : value;
}
