/**
 * What the cache tells the rest of the gateway (and its other replicas) about an entry.
 *
 * On the wire (shared-tier pub/sub) an event carries the entry's opaque tag, never the selector
 * or a value:
 *   f|<tag>|<base64url versionId>|<checkedAtMs>|<origin>|<createTimeMs or empty>
 *                                                              version X of entry K was written
 *   e|<tag>|<reason>|<origin>                                  entry K was evicted (fail closed)
 * `origin` is the publishing store's random instance id, so a store skips its own messages.
 * Locally, `SecretStore.subscribe(selector, listener)` turns them back into `CacheUpdate`s for the
 * selectors someone subscribed to, so watch/ never needs to know about Redis.
 */
import type { SecretSelector } from '../model';

export type EvictReason = 'notFound' | 'accessDenied';

export type CacheUpdate =
  | {
      type: 'written';
      selector: SecretSelector;
      /** The version now cached for this selector. `store.get(selector)` returns it. */
      versionId: string;
      checkedAtMs: number;
      /** 'local': this store wrote it; 'remote': another replica did. */
      origin: 'local' | 'remote';
    }
  | { type: 'evicted'; selector: SecretSelector; reason: EvictReason; origin: 'local' | 'remote' }
  /** The feed was interrupted (a reconnect): updates may have been lost, so re-read what you hold. */
  | { type: 'resync'; selector: SecretSelector };

export type CacheUpdateListener = (update: CacheUpdate) => void;

export type WireEvent =
  | { type: 'written'; tag: string; versionId: string; checkedAtMs: number; createTimeMs?: number; origin: string }
  | { type: 'evicted'; tag: string; reason: EvictReason; origin: string };

export function encodeEvent(e: WireEvent): string {
  if (e.type === 'written') {
    return ['f', e.tag, Buffer.from(e.versionId, 'utf8').toString('base64url'), String(e.checkedAtMs), e.origin, e.createTimeMs === undefined ? '' : String(e.createTimeMs)].join('|');
  }
  return ['e', e.tag, e.reason, e.origin].join('|');
}

/**
 * Parses a message (already authenticated); null for anything it does not recognise (ignored).
 * A `checkedAtMs` outside [0, horizonMs] (the newest time a peer may report) is refused: no time
 * from another replica can reach a heartbeat or a staleness decision unchecked.
 */
export function decodeEvent(message: string, horizonMs: number): WireEvent | null {
  const p = message.split('|');
  if (p[0] === 'f' && p.length === 6) {
    const checkedAtMs = Number(p[3]);
    if (!Number.isSafeInteger(checkedAtMs) || checkedAtMs < 0 || checkedAtMs > horizonMs) return null;
    const createTimeMs = p[5] === '' ? undefined : Number(p[5]);
    if (createTimeMs !== undefined && (!Number.isSafeInteger(createTimeMs) || createTimeMs < 0 || createTimeMs > horizonMs)) return null;
    return { type: 'written', tag: p[1], versionId: Buffer.from(p[2], 'base64url').toString('utf8'), checkedAtMs, ...(createTimeMs === undefined ? {} : { createTimeMs }), origin: p[4] };
  }
  if (p[0] === 'e' && p.length === 4 && (p[2] === 'notFound' || p[2] === 'accessDenied')) {
    return { type: 'evicted', tag: p[1], reason: p[2], origin: p[3] };
  }
  return null;
}
