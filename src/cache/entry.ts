/**
 * A cache entry: one SecretVersion plus its timing. The timing is decided once, by the replica
 * that fetched the value, and travels (sealed) with it, so every replica agrees on when the entry
 * must be refreshed and when it expires.
 */
import type { SecretVersion, SecretValue } from '../model';
import type { CacheConfig } from './config';

export interface CacheEntry {
  secret: SecretVersion;
  /** When the source last confirmed this value (epoch ms, clock of the replica that fetched). */
  checkedAtMs: number;
  /** Answer without asking the source until then. */
  freshUntilMs: number;
  /** Refresh-ahead is due then (Infinity: never). Before freshUntilMs. */
  refreshAtMs: number;
  /** Answerable stale (transient source failures only) until then. */
  staleUntilMs: number;
}

export interface NegativeEntry {
  checkedAtMs: number;
  expiresAtMs: number;
}

type TimingConfig = Pick<CacheConfig, 'ttlMs' | 'ttlJitterRatio' | 'refreshAheadRatio' | 'maxStaleMs' | 'rotationCheckDelayMs'>;

/** Timing for a value fetched at `now`: jittered TTL, refresh-ahead point, rotation-aware check. */
export function makeEntry(secret: SecretVersion, now: number, cfg: TimingConfig, random: () => number = Math.random): CacheEntry {
  const ttl = Math.max(1, Math.round(cfg.ttlMs * (1 - cfg.ttlJitterRatio * random())));
  let freshUntilMs = now + ttl;
  let refreshAtMs = cfg.refreshAheadRatio > 0 ? now + Math.round(ttl * cfg.refreshAheadRatio) : Infinity;
  // Rotation-aware: when KMS will rotate before this entry expires, look again just after it.
  const rotation = secret.nextRotationTimeMs;
  if (rotation !== undefined && Number.isFinite(rotation)) {
    const checkAt = rotation + cfg.rotationCheckDelayMs;
    if (checkAt > now && checkAt < freshUntilMs) {
      if (refreshAtMs !== Infinity) refreshAtMs = Math.min(refreshAtMs, checkAt);
      else freshUntilMs = checkAt;
    }
  }
  return { secret, checkedAtMs: now, freshUntilMs, refreshAtMs, staleUntilMs: freshUntilMs + cfg.maxStaleMs };
}

type WireValue = { kind: 'string'; text: string } | { kind: 'binary'; b64: string };

/** The plaintext that gets sealed. Never leaves this process unsealed. */
export function encodeEntry(e: CacheEntry): Buffer {
  const v: SecretValue = e.secret.value;
  const value: WireValue = v.kind === 'string' ? { kind: 'string', text: v.text } : { kind: 'binary', b64: v.bytes.toString('base64') };
  const refresh = e.refreshAtMs === Infinity ? null : e.refreshAtMs;
  return Buffer.from(JSON.stringify({ s: { ...e.secret, value }, c: e.checkedAtMs, f: e.freshUntilMs, r: refresh, x: e.staleUntilMs }), 'utf8');
}

/** Inverse of encodeEntry; null when the shape is wrong (treated as a miss). */
export function decodeEntry(buf: Buffer): CacheEntry | null {
  try {
    const o = JSON.parse(buf.toString('utf8')) as { s: Omit<SecretVersion, 'value'> & { value: WireValue }; c: number; f: number; r: number | null; x: number };
    if (!o || typeof o.c !== 'number' || typeof o.f !== 'number' || typeof o.x !== 'number' || !o.s || typeof o.s.versionId !== 'string') return null;
    const w = o.s.value;
    let value: SecretValue;
    if (w?.kind === 'string' && typeof w.text === 'string') value = { kind: 'string', text: w.text };
    else if (w?.kind === 'binary' && typeof w.b64 === 'string') value = { kind: 'binary', bytes: Buffer.from(w.b64, 'base64') };
    else return null;
    return { secret: { ...o.s, value }, checkedAtMs: o.c, freshUntilMs: o.f, refreshAtMs: o.r ?? Infinity, staleUntilMs: o.x };
  } catch {
    return null;
  }
}

export function encodeNegative(n: NegativeEntry): Buffer {
  return Buffer.from(JSON.stringify({ c: n.checkedAtMs, e: n.expiresAtMs }), 'utf8');
}

export function decodeNegative(buf: Buffer): NegativeEntry | null {
  try {
    const o = JSON.parse(buf.toString('utf8')) as { c: number; e: number };
    return typeof o?.c === 'number' && typeof o.e === 'number' ? { checkedAtMs: o.c, expiresAtMs: o.e } : null;
  } catch {
    return null;
  }
}
