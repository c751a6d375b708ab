/**
 * L1: the bounded in-process LRU. Keyed by the full selectorKey (never by name alone). An item is
 * answered as LOCAL_CACHE only until `l1ExpiresAtMs` (short, so replicas converge even if a pub/sub
 * message was missed) but is kept until its stale limit, so it can still be answered STALE when
 * both Redis and the source are down. Expiry uses the store's clock, not lru-cache's own TTL.
 */
import { LRUCache } from 'lru-cache';
import type { CacheEntry, NegativeEntry } from './entry';

export type L1Item =
  | { kind: 'value'; tag: string; entry: CacheEntry; l1ExpiresAtMs: number }
  | { kind: 'negative'; tag: string; negative: NegativeEntry; l1ExpiresAtMs: number };

export class L1 {
  private readonly lru: LRUCache<string, L1Item>;
  /** tag → cacheKey, for invalidation by pub/sub (messages carry tags only). Same size as the LRU. */
  private readonly byTag = new Map<string, string>();

  constructor(
    readonly max: number,
    private readonly ttlMs: number,
  ) {
    this.lru = new LRUCache<string, L1Item>({
      max,
      dispose: (item, key, reason) => {
        if (reason !== 'set' && this.byTag.get(item.tag) === key) this.byTag.delete(item.tag);
      },
    });
  }

  get size(): number {
    return this.lru.size;
  }

  /** The item, or undefined once it is past any use (stale limit / negative expiry). */
  get(cacheKey: string, now: number): L1Item | undefined {
    const item = this.lru.get(cacheKey);
    if (!item) return undefined;
    const deadline = item.kind === 'value' ? item.entry.staleUntilMs : item.negative.expiresAtMs;
    if (now >= deadline) {
      this.lru.delete(cacheKey);
      return undefined;
    }
    return item;
  }

  /**
   * Whether some value could still be answered at `now`: until its stale limit when `stale`, else
   * only while LOCAL_CACHE (readiness: "holds something to serve"). Stops at the first one.
   */
  hasServable(now: number, stale: boolean): boolean {
    for (const item of this.lru.values()) {
      if (item.kind === 'value' && now < (stale ? item.entry.staleUntilMs : item.l1ExpiresAtMs)) return true;
    }
    return false;
  }

  /** Reads without touching recency or expiry (refresher bookkeeping). */
  peek(cacheKey: string): L1Item | undefined {
    return this.lru.peek(cacheKey);
  }

  setValue(cacheKey: string, tag: string, entry: CacheEntry, now: number): void {
    this.put(cacheKey, { kind: 'value', tag, entry, l1ExpiresAtMs: Math.min(now + this.ttlMs, entry.freshUntilMs) });
  }

  setNegative(cacheKey: string, tag: string, negative: NegativeEntry, now: number): void {
    this.put(cacheKey, { kind: 'negative', tag, negative, l1ExpiresAtMs: Math.min(now + this.ttlMs, negative.expiresAtMs) });
  }

  delete(cacheKey: string): void {
    this.lru.delete(cacheKey);
  }

  /**
   * Another replica wrote a newer entry for `tag`: the next read goes to the shared tier, but the
   * value stays as this replica's stale fallback (a Redis that dies before that read must not
   * leave the replica with nothing to answer while KMS is down too).
   */
  supersede(tag: string): void {
    const key = this.byTag.get(tag);
    const item = key === undefined ? undefined : this.lru.peek(key);
    if (item?.kind === 'value') this.lru.set(key!, { ...item, l1ExpiresAtMs: -Infinity });
    else if (key !== undefined) this.lru.delete(key);
  }

  /** Drops the item whose tag this is; returns its cacheKey when there was one. */
  deleteByTag(tag: string): string | undefined {
    const key = this.byTag.get(tag);
    if (key !== undefined) this.lru.delete(key);
    return key;
  }

  keyOfTag(tag: string): string | undefined {
    return this.byTag.get(tag);
  }

  clear(): void {
    this.lru.clear();
    this.byTag.clear();
  }

  private put(cacheKey: string, item: L1Item): void {
    this.lru.set(cacheKey, item);
    if (this.lru.has(cacheKey)) this.byTag.set(item.tag, cacheKey);
  }
}
