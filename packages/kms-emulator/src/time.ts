/** Time formats of the KMS/STS wire: UTC, whole seconds, `YYYY-MM-DDTHH:mm:ssZ`. */

/** Formats epoch ms as `YYYY-MM-DDTHH:mm:ssZ` (the SDKs reject milliseconds in some places). */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Parses `YYYY-MM-DDTHH:mm:ssZ` (optionally with `.sss`); undefined when malformed. */
export function parseIsoUtc(s: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/.test(s)) return undefined;
  const ms = Date.parse(s);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Parses a KMS rotation interval (`604800s`, `7d`, `12h`, `30m`) to seconds; undefined when malformed. */
export function parseInterval(s: string): number | undefined {
  const m = /^(\d{1,10})([dhms])$/.exec(s.trim());
  if (!m) return undefined;
  return Number(m[1]) * { d: 86_400, h: 3_600, m: 60, s: 1 }[m[2] as 'd' | 'h' | 'm' | 's'];
}

/** KMS bounds for automatic rotation: 6 hours to 365 days. */
export const MIN_ROTATION_SECONDS = 6 * 3_600;
export const MAX_ROTATION_SECONDS = 8_760 * 3_600;
