/**
 * Redis key names.
 *
 * Decision: secret names never appear in Redis. Each selector's canonical cache key (selectorKey():
 * region scope, name, stage | version id, fetchExtendedConfig) is reduced to a tag
 *
 *   tag = hex(HMAC-SHA256(namingKey, selectorKey))[0..32]      (128 bits)
 *
 * where namingKey is derived (HKDF) from the seal key ring (keyRing.ts). So a key name reveals
 * neither the name nor the stage, and someone who can list Redis keys but lacks the seal key cannot
 * confirm a guess ("is there a key for prod/db-password?"), which a plain hash would allow.
 * Distinct selectors give distinct tags (Vault #28137 mixed entries of different selectors).
 *
 * Every key of one entry carries the tag as a Redis Cluster hash tag, `{tag}`, so value, negative
 * entry, fill lock and refresh lease live in one slot (multi-key scripts and MGET work in Cluster).
 */
import { createHmac } from 'node:crypto';

export interface EntryKeys {
  /** The sealed value envelope. */
  value: string;
  /** The sealed negative (NotFound) entry. */
  negative: string;
  /** The cluster-wide fill lock (token, PX lease). */
  lock: string;
  /** The refresh-ahead claim (token, PX lease). */
  lease: string;
}

export class KeyNamer {
  constructor(
    private readonly namingKey: Buffer,
    readonly prefix: string,
  ) {}

  /** The opaque tag of one canonical cache key. */
  tag(cacheKey: string): string {
    return createHmac('sha256', this.namingKey).update(cacheKey, 'utf8').digest('hex').slice(0, 32);
  }
}

export function entryKeys(prefix: string, tag: string): EntryKeys {
  const base = `${prefix}:{${tag}}`;
  return { value: `${base}:v`, negative: `${base}:n`, lock: `${base}:lock`, lease: `${base}:lease` };
}

/** The data epoch (tierEpoch.ts): gone exactly when Redis lost its data. */
export function epochKey(prefix: string): string {
  return `${prefix}:epoch`;
}

/** The pub/sub channel that carries fill and eviction events (events.ts); distinct from watch/'s channel. */
export function eventsChannel(prefix: string): string {
  return `${prefix}:cache:events`;
}

/** The key of one KMS target's cluster-wide token bucket (redisBudget.ts). Target ids are not secret. */
export function budgetKey(prefix: string, targetId: string): string {
  return `${prefix}:budget:{${targetId.replace(/[{}\s]/g, '_')}}`;
}
