/**
 * The shared (L2) tier as the store sees it: opaque sealed strings under an entry tag, a fill
 * lock and a refresh lease per tag, and one broadcast channel. Implemented by Redis (redisTier.ts)
 * and in memory (memoryTier.ts, dev mode without Redis). Implementations never see plaintext: the
 * store seals before writing and opens after reading. The methods take no AbortSignal because
 * ioredis accepts none: the client's `commandTimeout` bounds each call, and the store's breaker
 * fails them fast while the tier is down.
 */

export interface SharedRead {
  /** The sealed value envelope, or null. */
  value: string | null;
  /** The sealed negative-entry envelope, or null. */
  negative: string | null;
}

export interface TierListener {
  message(message: string): void;
  resync(): void;
}

export interface SharedTier {
  readonly kind: 'redis' | 'memory';
  /** Reads the value and the negative entry of one tag in one round trip. */
  read(tag: string): Promise<SharedRead>;
  /**
   * Fenced fill: writes the value (PX `ttlMs`) and deletes the negative entry, only while `token`
   * still holds the tag's fill lock. Returns false when the lock was lost (nothing written).
   */
  fillValue(tag: string, token: string, sealed: string, ttlMs: number): Promise<boolean>;
  /** Fenced like fillValue: writes the negative entry and deletes the value. */
  fillNegative(tag: string, token: string, sealed: string, ttlMs: number): Promise<boolean>;
  /** Deletes value and negative entry (fail closed: NotFound / AccessDenied). Not fenced. */
  evict(tag: string): Promise<void>;
  /**
   * The tier's data epoch: an id that lives as long as the tier's data (no TTL). Sets `candidate`
   * when the tier holds none (new, or restarted empty) and returns the id now current.
   */
  epoch(candidate: string): Promise<string>;
  /** SET lock token NX PX leaseMs. */
  tryLock(tag: string, token: string, leaseMs: number): Promise<boolean>;
  /** Extends the lock's lease if `token` still holds it. */
  extendLock(tag: string, token: string, leaseMs: number): Promise<boolean>;
  /** Compare-and-delete of the lock. */
  unlock(tag: string, token: string): Promise<boolean>;
  /** SET lease token NX PX leaseMs: the refresh-ahead claim. */
  tryLease(tag: string, token: string, leaseMs: number): Promise<boolean>;
  /** Compare-and-delete of the refresh-ahead claim. */
  releaseLease(tag: string, token: string): Promise<boolean>;
  /** Broadcasts a message (events.ts) to every store sharing this tier, this one included. */
  publish(message: string): Promise<void>;
  /**
   * Registers the one listener of this store: every message, and `resync` after the feed was
   * interrupted (messages may have been lost). Resolves once subscribed.
   */
  subscribe(listener: TierListener, opts?: { signal?: AbortSignal }): Promise<void>;
  /** Stops listening and frees what this tier created (not a client it was given). */
  close(): Promise<void>;
}
