/**
 * Every tunable of the secret cache, in one place. The composition root builds a `CacheConfig`
 * from the gateway config (`src/config/`) and passes it in; nothing here reads env.
 *
 * A tunable that is also a setting (`SETTINGS_OF` below) takes its default and range from
 * `config/settings.ts`, so the number is written once; the rest are internal and defined here.
 */
import { ConfigError } from '../errors';
import { keyPrefix } from '../config/parsers';
import { defaultOf, rangeOf, type SettingName } from '../config/settings';

export interface CacheConfig {
  /** Prefix of every Redis key and channel; deployments sharing one Redis need distinct prefixes. Setting SECRETS_GATEWAY_CACHE_KEY_PREFIX. */
  keyPrefix: string;
  /** Largest number of entries (values and negative entries) in the in-process L1. Setting SECRETS_GATEWAY_CACHE_L1_MAX_ENTRIES. */
  l1MaxEntries: number;
  /** How long this replica answers from L1 before looking at the shared tier again. Setting SECRETS_GATEWAY_CACHE_L1_TTL_MS. */
  l1TtlMs: number;
  /** How long a value read from KMS is fresh (before jitter). Setting SECRETS_GATEWAY_CACHE_TTL_MS. */
  ttlMs: number;
  /** Each entry's TTL is shortened by a random fraction up to this, so entries don't expire together. 0–0.5. @default 0.1 */
  ttlJitterRatio: number;
  /** Refresh-ahead starts at this fraction of the (jittered) TTL; 0 disables refresh-ahead. 0–0.95. Setting SECRETS_GATEWAY_CACHE_REFRESH_AHEAD_RATIO. */
  refreshAheadRatio: number;
  /** A key is refreshed ahead only while it was read within this window (so cold keys expire instead). @default 300000 */
  hotWindowMs: number;
  /** After a failed refresh-ahead, try again after this long. @default 5000 */
  refreshRetryMs: number;
  /** When a secret's next rotation falls inside its TTL, check again this long after it. @default 5000 */
  rotationCheckDelayMs: number;
  /** Answer a stale value (source STALE) when the source fails transiently. Setting SECRETS_GATEWAY_CACHE_SERVE_STALE. */
  serveStaleOnTransientError: boolean;
  /**
   * A read that holds an expired value (within max-stale, and recent enough for its
   * max_staleness) answers it STALE when the refresh has not finished within this long: a KMS that
   * is slow or still cooling down after an outage costs callers this much, not their deadline. The
   * refresh goes on and updates the cache. 0: wait for the refresh. Setting SECRETS_GATEWAY_CACHE_STALE_IF_SLOW_MS.
   */
  staleIfSlowMs: number;
  /** How long past its TTL a value may still be answered stale (and is kept in Redis for that). Setting SECRETS_GATEWAY_CACHE_MAX_STALE_MS. */
  maxStaleMs: number;
  /** How long a NotFound answer is cached, so a bad name cannot hammer KMS. 0 disables. Setting SECRETS_GATEWAY_CACHE_NEGATIVE_TTL_MS. */
  negativeTtlMs: number;
  /** Lease of the cluster-wide fill lock; a crashed holder's lock frees itself after this. The holder renews it every third. @default 10000 */
  lockLeaseMs: number;
  /** Lease of the refresh-ahead claim: the replica holding it refreshes the key. @default 10000 */
  refreshLeaseMs: number;
  /** A follower re-reads the shared tier at least this often while waiting for a "filled" message. @default 250 */
  fillPollMs: number;
  /** A follower gives up waiting for another replica's fill after this long (BackendUnavailableError). @default 30000 */
  fillMaxWaitMs: number;
  /** Longest source (KMS) call made on behalf of a fill, shared by all its waiters. @default 30000 */
  sourceTimeoutMs: number;
  /** Callers waiting on one key in this process; more get ResourceExhaustedError. @default 10000 */
  maxWaitersPerKey: number;
  /** Keys being filled at once in this process; more get ResourceExhaustedError. @default 10000 */
  maxFlights: number;
  /** Watch subscriptions (store.subscribe) held at once. @default 100000 */
  maxSubscriptions: number;
  /** Redis failures in a row that open the breaker (the store then runs on L1 + source only). @default 5 */
  breakerFailureThreshold: number;
  /** How long the breaker stays open before one probe command is let through. @default 2000 */
  breakerOpenMs: number;
  /**
   * A read's `maxStalenessMs` below this is raised to it, on every path (callers, watch polls,
   * re-reads after events), so nothing can force more than one KMS call per key per interval
   * through this replica. Setting SECRETS_GATEWAY_FORCED_REFRESH_MIN_INTERVAL_MS. */
  forcedRefreshMinIntervalMs: number;
  /** Clock difference between replicas tolerated when comparing their `checkedAt` times. @default 1000 */
  maxClockSkewMs: number;
  /** Keys whose newest seen version this replica remembers (rollback detection). @default 100000 */
  highWaterMarks: number;
}

/** The cache tunables that are gateway settings: default and range come from `config/settings.ts`. */
const SETTINGS_OF = {
  keyPrefix: 'SECRETS_GATEWAY_CACHE_KEY_PREFIX',
  l1MaxEntries: 'SECRETS_GATEWAY_CACHE_L1_MAX_ENTRIES',
  l1TtlMs: 'SECRETS_GATEWAY_CACHE_L1_TTL_MS',
  ttlMs: 'SECRETS_GATEWAY_CACHE_TTL_MS',
  refreshAheadRatio: 'SECRETS_GATEWAY_CACHE_REFRESH_AHEAD_RATIO',
  serveStaleOnTransientError: 'SECRETS_GATEWAY_CACHE_SERVE_STALE',
  maxStaleMs: 'SECRETS_GATEWAY_CACHE_MAX_STALE_MS',
  negativeTtlMs: 'SECRETS_GATEWAY_CACHE_NEGATIVE_TTL_MS',
  forcedRefreshMinIntervalMs: 'SECRETS_GATEWAY_FORCED_REFRESH_MIN_INTERVAL_MS',
  staleIfSlowMs: 'SECRETS_GATEWAY_CACHE_STALE_IF_SLOW_MS',
} as const satisfies Partial<Record<keyof CacheConfig, SettingName>>;

export const DEFAULT_CACHE_CONFIG: Readonly<CacheConfig> = Object.freeze({
  ...(Object.fromEntries(Object.entries(SETTINGS_OF).map(([k, name]) => [k, defaultOf(name)])) as Pick<CacheConfig, keyof typeof SETTINGS_OF>),
  ttlJitterRatio: 0.1,
  hotWindowMs: 300_000,
  refreshRetryMs: 5_000,
  rotationCheckDelayMs: 5_000,
  lockLeaseMs: 10_000,
  refreshLeaseMs: 10_000,
  fillPollMs: 250,
  fillMaxWaitMs: 30_000,
  sourceTimeoutMs: 30_000,
  maxWaitersPerKey: 10_000,
  maxFlights: 10_000,
  maxSubscriptions: 100_000,
  breakerFailureThreshold: 5,
  breakerOpenMs: 2_000,
  maxClockSkewMs: 1_000,
  highWaterMarks: 100_000,
});

type NumKey = { [K in keyof CacheConfig]: CacheConfig[K] extends number ? K : never }[keyof CacheConfig];

type OwnNumKey = Exclude<NumKey, keyof typeof SETTINGS_OF>;

const RANGES: Record<NumKey, readonly [min: number, max: number]> = {
  ...(Object.fromEntries(Object.entries(SETTINGS_OF).flatMap(([k, name]) => (typeof DEFAULT_CACHE_CONFIG[k as keyof CacheConfig] === 'number' ? [[k, rangeOf(name)]] : []))) as Record<Exclude<NumKey, OwnNumKey>, readonly [number, number]>),
  ttlJitterRatio: [0, 0.5],
  hotWindowMs: [0, 86_400_000],
  refreshRetryMs: [1, 3_600_000],
  rotationCheckDelayMs: [0, 3_600_000],
  lockLeaseMs: [50, 600_000],
  refreshLeaseMs: [50, 600_000],
  fillPollMs: [5, 60_000],
  fillMaxWaitMs: [10, 600_000],
  sourceTimeoutMs: [10, 600_000],
  maxWaitersPerKey: [1, 10_000_000],
  maxFlights: [1, 10_000_000],
  maxSubscriptions: [0, 10_000_000],
  breakerFailureThreshold: [1, 1000],
  breakerOpenMs: [10, 600_000],
  maxClockSkewMs: [0, 60_000],
  highWaterMarks: [1, 10_000_000],
};

/** Fills in defaults and checks every range; the error names the setting (`cache.<name>`) and its range. */
export function resolveCacheConfig(partial: Partial<CacheConfig> = {}): CacheConfig {
  const cfg: CacheConfig = { ...DEFAULT_CACHE_CONFIG, ...partial };
  for (const [name, [min, max]] of Object.entries(RANGES) as [NumKey, readonly [number, number]][]) {
    const v = cfg[name];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
      throw new ConfigError(`cache.${name}`, `must be a number ${min}–${max}`);
    }
  }
  try {
    keyPrefix(cfg.keyPrefix);
  } catch (err) {
    throw new ConfigError('cache.keyPrefix', (err as Error).message);
  }
  if (typeof cfg.serveStaleOnTransientError !== 'boolean') {
    throw new ConfigError('cache.serveStaleOnTransientError', 'must be true or false');
  }
  return cfg;
}
