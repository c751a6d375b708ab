/**
 * A small structured logger: one JSON object per line on stderr. Passed in, never global.
 * Callers log secret *names* and KMS request ids, never values, tokens or credentials; as a
 * second line of defence, fields whose names look sensitive are replaced by `[REDACTED]`.
 */

export type Fields = Record<string, unknown>;

/** Owned here (not in config/): telemetry sits below config and must not import it. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  child(fields: Fields): Logger;
  /** Whether a line at `level` would be written, so a caller can skip building it. Unset: assume it would. */
  enabled?(level: LogLevel): boolean;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
/** Field names whose value is withheld whatever it looks like. */
const SENSITIVE = /secret|token|passw|credential|^authorization$|signature|value|plaintext|private.?key|seal.?keys?|url$|pem$|material|cookie/i;
/** Field names that match SENSITIVE but are safe identifiers. */
const SAFE = new Set(['secretName', 'secret_name', 'secretType', 'keyId', 'cacheKey']);

/**
 * Credential shapes scrubbed from every string that reaches a log line, whatever its field name,
 * Error messages included: redaction must not depend on each caller naming its fields well.
 */
const SCRUB: [RegExp, string][] = [
  [/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g, '[REDACTED PRIVATE KEY]'],
  [/\beyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*/g, '[REDACTED JWT]'],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9_\-.~+/=]{8,}/gi, '$1 [REDACTED]'],
  [/(\/\/[^/\s:@]*:)[^/\s@]+@/g, '$1[REDACTED]@'],
  [/\b(AccessKeySecret|SecurityToken|Signature|Password|ClientKeyPassword|PrivateKeyData)(["']?\s*[=:]\s*["']?)[^\s&"',}]+/gi, '$1$2[REDACTED]'],
];

/** `s` with every credential shape in SCRUB replaced. */
export function scrub(s: string): string {
  let out = s;
  for (const [re, to] of SCRUB) out = out.replace(re, to);
  return out;
}

export type Sink = (line: string) => void;

export function createLogger(opts: { level?: LogLevel; sink?: Sink; base?: Fields } = {}): Logger {
  const min = RANK[opts.level ?? 'info'];
  const sink = opts.sink ?? ((line) => process.stderr.write(line + '\n'));
  const make = (base: Fields): Logger => {
    const emit = (level: LogLevel, msg: string, fields?: Fields) => {
      if (RANK[level] < min) return;
      sink(JSON.stringify({ time: new Date().toISOString(), level, msg: scrub(msg), ...redact(base), ...redact(fields) }));
    };
    return {
      debug: (m, f) => emit('debug', m, f),
      info: (m, f) => emit('info', m, f),
      warn: (m, f) => emit('warn', m, f),
      error: (m, f) => emit('error', m, f),
      child: (f) => make({ ...base, ...f }),
      enabled: (level) => RANK[level] >= min,
    };
  };
  return make(opts.base ?? {});
}

function redact(fields?: Fields, depth = 0): Fields | undefined {
  if (!fields) return fields;
  const out: Fields = {};
  for (const [k, v] of Object.entries(fields)) {
    if (SENSITIVE.test(k) && !SAFE.has(k)) out[k] = '[REDACTED]';
    else if (v instanceof Error) out[k] = { name: v.name, message: scrub(v.message) };
    else if (typeof v === 'string') out[k] = scrub(v);
    else if (Array.isArray(v)) out[k] = v.map((x) => (typeof x === 'string' ? scrub(x) : x));
    else if (v && typeof v === 'object' && !Array.isArray(v)) out[k] = depth < 3 ? redact(v as Fields, depth + 1) : '[…]';
    else out[k] = v;
  }
  return out;
}

/** A logger that drops everything (tests, library use). */
export const silentLogger: Logger = createLogger({ sink: () => {}, level: 'error' });
