/**
 * The cluster coordination the watch detector needs, poll leases and the interest registry, as one
 * narrow interface with two implementations: Redis (every replica shares one Redis, Sentinel or
 * Cluster) and in-memory (one replica, dev mode, no Redis). Updates of watched keys do not travel
 * here: they come from the cache's change feed (reader.ts `SecretFeed`).
 *
 * Keys on the bus are opaque *tags*, never secret names: `tagOf` turns the canonical selector key
 * into the tag (the Redis bus uses the cache's keyed naming, so Redis never reveals which secret
 * names exist).
 */

export interface WatchBus {
  /** The opaque, cluster-wide identity of a canonical selector key (`selectorKey()`). */
  tagOf(selectorKey: string): string;

  /** Takes the poll lease of `tag` for `ttlMs` if nobody holds it. */
  acquireLease(tag: string, token: string, ttlMs: number): Promise<boolean>;
  /** Extends the lease if `token` still holds it; false when it was lost. */
  extendLease(tag: string, token: string, ttlMs: number): Promise<boolean>;
  /** Frees the lease if `token` holds it (compare-and-delete), so another replica takes over at once. */
  releaseLease(tag: string, token: string): Promise<void>;

  /** Marks `replicaId` as watching `tag` for `ttlMs` (refresh before it lapses). */
  joinInterest(tag: string, replicaId: string, ttlMs: number): Promise<void>;
  /** Removes `replicaId`'s interest in `tag` at once. */
  leaveInterest(tag: string, replicaId: string): Promise<void>;
  /** How many replicas currently (unexpired) watch `tag`. */
  interestCount(tag: string): Promise<number>;
  /** How many tags any replica currently watches (for metrics and tests). */
  watchedCount(): Promise<number>;

  /** Frees what the bus holds (never the caller's Redis client). */
  close(): Promise<void>;
}
