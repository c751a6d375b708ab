/**
 * Value parsers for settings. Each takes the raw value (a string from env or a properties
 * file, or a JSON/YAML scalar) and returns the typed value or throws a reason. The loader
 * prefixes the setting name; reasons for secret settings never echo the value.
 */

export type Raw = string | number | boolean | unknown[] | Record<string, unknown>;
export type Parser<T> = (raw: Raw) => T;
/** A numeric parser that also says its range, so a module can check the same bounds as the setting. */
export type RangedParser = Parser<number> & { readonly range: readonly [min: number, max: number] };

const show = (raw: Raw): string => JSON.stringify(typeof raw === 'string' && raw.length > 80 ? raw.slice(0, 80) + '…' : raw);

export function str(raw: Raw): string {
  if (typeof raw !== 'string' && typeof raw !== 'number') throw new Error(`must be a string, got ${show(raw)}`);
  return String(raw).trim();
}

export function nonEmpty(raw: Raw): string {
  const s = str(raw);
  if (!s) throw new Error('must not be empty');
  return s;
}

const ranged = (min: number, max: number, parse: Parser<number>): RangedParser => Object.assign(parse, { range: [min, max] as const });

export function int(min: number, max: number): RangedParser {
  return ranged(min, max, (raw) => {
    const s = typeof raw === 'number' ? String(raw) : str(raw);
    if (!/^-?\d+$/.test(s) || Number(s) < min || Number(s) > max) {
      throw new Error(`must be an integer ${min}–${max}, got ${show(raw)}`);
    }
    return Number(s);
  });
}


export function fraction(min: number, max: number): RangedParser {
  return ranged(min, max, (raw) => {
    const n = typeof raw === 'number' ? raw : Number(str(raw));
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`must be a number ${min}–${max}, got ${show(raw)}`);
    return n;
  });
}

/**
 * A Redis key prefix: no braces (they would break Cluster hash tags) and nothing a key name
 * cannot carry. The cache checks programmatic prefixes with the same parser.
 */
export function keyPrefix(raw: Raw): string {
  const s = str(raw);
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(s)) throw new Error('must be 1–64 characters of A-Z a-z 0-9 _ . : - (no braces: they would break hash tags)');
  return s;
}

export function bool(raw: Raw): boolean {
  if (typeof raw === 'boolean') return raw;
  const s = str(raw).toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(s)) return true;
  if (['false', '0', 'no', 'off', ''].includes(s)) return false;
  throw new Error(`must be true or false, got ${show(raw)}`);
}

export function oneOf<T extends string>(...values: T[]): Parser<T> {
  return (raw) => {
    const s = str(raw) as T;
    if (!values.includes(s)) throw new Error(`must be one of ${values.join(', ')}, got ${show(raw)}`);
    return s;
  };
}

export interface HostPort {
  host: string;
  port: number;
}

/** `host:port`, `[v6]:port`. Port 0 asks the OS for a free port. */
export function hostPort(raw: Raw): HostPort {
  const s = str(raw);
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`must be host:port (for example 127.0.0.1:50051 or [::1]:50051), got ${show(raw)}`);
  return { host: m[1] ?? m[2]!, port };
}

/** A URL whose scheme is one of `schemes` (e.g. `['redis', 'rediss']`). Secret-safe: never echoes the value. */
function urlWith(...schemes: string[]): Parser<string> {
  const want = schemes.map((x) => `${x}://`).join(' or ');
  return (raw) => {
    const s = nonEmpty(raw);
    let protocol: string;
    try {
      protocol = new URL(s).protocol;
    } catch {
      throw new Error(`must be a ${want} URL`);
    }
    if (!schemes.includes(protocol.slice(0, -1))) throw new Error(`must be a ${want} URL`);
    return s;
  };
}

export const redisUrl = urlWith('redis', 'rediss');
export const httpUrl = urlWith('http', 'https');

/** A JSON value given either as a JSON string (env, properties) or as structured YAML/JSON. */
export function json(raw: Raw): unknown {
  if (typeof raw !== 'string') return raw;
  try {
    return JSON.parse(raw);
  } catch (e) {
    throw new Error(`must be valid JSON (${(e as Error).message})`);
  }
}

/** A secret string: same as nonEmpty, but never echoes the value. */
export function secret(raw: Raw): string {
  if (typeof raw !== 'string' || !raw.trim()) throw new Error('must be a non-empty string');
  return raw.trim();
}

/** `host:port,host:port`. */
export function hostPorts(raw: Raw): HostPort[] {
  const list = str(raw).split(',').map((x) => x.trim()).filter(Boolean);
  if (list.length === 0) throw new Error('must list at least one host:port');
  return list.map((x) => hostPort(x));
}

/** A comma-separated (or YAML list) of names. */
export function names(raw: Raw): string[] {
  const list = Array.isArray(raw) ? raw.map((x) => str(x as Raw)) : str(raw).split(',');
  return list.map((x) => x.trim()).filter(Boolean);
}
