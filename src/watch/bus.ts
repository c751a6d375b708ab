/**
 * The cluster coordination the watch module needs, as one narrow interface with two
 * implementations: Redis (every replica shares one Redis, Sentinel or Cluster) and in-memory (one
 * replica, dev mode, no Redis). The hub and the detector only ever talk to a `WatchBus`.
 *
 * Keys on the bus are opaque *tags*, never secret names: `tagOf` turns the canonical selector key
 * into the tag (the Redis bus uses the cache's keyed naming, so Redis never reveals which secret
 * names exist).
 */

/** What a poller tells every replica after one poll of one key. */
export type BusEvent =
  /** KMS confirmed `versionId` as current at `checkedAtMs` (poller's clock). `rotated`: it changed. */
  | { kind: 'checked'; tag: string; versionId: string; checkedAtMs: number; rotated: boolean }
  /** The secret is gone (deleted) or the gateway lost access: watchers must end. */
  | { kind: 'gone'; tag: string; reason: GoneReason };

export type GoneReason = 'not_found' | 'denied';

export interface BusListener {
  onEvent(ev: BusEvent): void;
  /** The event feed was interrupted (reconnect): events may have been lost, re-read what you hold. */
  onResync(): void;
}

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

  publish(ev: BusEvent): Promise<void>;
  /** Starts delivering events to `listener`; resolves once the feed is live. One listener per bus. */
  subscribe(listener: BusListener): Promise<void>;

  /** Stops the feed and frees connections the bus created (never the caller's Redis client). */
  close(): Promise<void>;
}

/** Compact JSON for the wire. Versions and tags are opaque; no names and no values travel. */
export function encodeEvent(ev: BusEvent): string {
  return ev.kind === 'checked'
    ? JSON.stringify({ k: 'c', t: ev.tag, v: ev.versionId, c: ev.checkedAtMs, r: ev.rotated ? 1 : 0 })
    : JSON.stringify({ k: 'g', t: ev.tag, e: ev.reason });
}

/**
 * Parses one (authenticated) message; anything malformed (another version, a stray publisher), or
 * a time outside [0, horizonMs], yields undefined: a peer's clock never reaches a heartbeat unchecked.
 */
export function decodeEvent(raw: string, horizonMs: number): BusEvent | undefined {
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof m !== 'object' || m === null || typeof m.t !== 'string') return undefined;
  if (m.k === 'c' && typeof m.v === 'string' && Number.isSafeInteger(m.c) && (m.c as number) >= 0 && (m.c as number) <= horizonMs) {
    return { kind: 'checked', tag: m.t, versionId: m.v, checkedAtMs: m.c as number, rotated: m.r === 1 };
  }
  if (m.k === 'g' && (m.e === 'not_found' || m.e === 'denied')) return { kind: 'gone', tag: m.t, reason: m.e };
  return undefined;
}
