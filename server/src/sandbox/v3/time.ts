// API v3 writes times as RFC 3339 in Beijing time: 2026-12-02T10:34:56+08:00.
const RFC3339_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

export function rfc3339Beijing(ms: number): string {
  const d = new Date(ms + 8 * 3600 * 1000).toISOString();
  return `${d.slice(0, 19)}+08:00`;
}

/** ms epoch of an RFC 3339 date-time, or undefined when it is not one (or not a real date). */
export function parseRfc3339(s: string): number | undefined {
  const m = RFC3339_RE.exec(s);
  if (!m) return undefined;
  const [mo, d, h, mi, se] = m.slice(2, 7).map(Number) as [number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59) return undefined;
  const ms = Date.parse(s);
  if (!Number.isFinite(ms)) return undefined;
  return ms;
}
