/**
 * Epoch ms of an ISO 8601 date or time, or undefined. Stricter than Date.parse, which takes
 * `2030-02-30` for March 2: the calendar date written must exist.
 */
export function parseIsoTime(text: string): number | undefined {
  const date = /^(\d{4})-(\d{2})-(\d{2})/.exec(text);
  const ms = Date.parse(text);
  if (!date || Number.isNaN(ms)) return undefined;
  const [year, month, day] = [Number(date[1]), Number(date[2]), Number(date[3])];
  const written = new Date(Date.UTC(year, month - 1, day));
  if (written.getUTCMonth() !== month - 1 || written.getUTCDate() !== day) return undefined;
  return ms;
}
