/**
 * The replay set for signature nonces. A nonce only needs remembering while a request carrying it
 * could still pass the timestamp check, so each entry expires at (request timestamp + window);
 * expired entries are dropped on insert, and a hard cap bounds memory under a flood. No timers.
 */

export interface NonceCache {
  /** Records the nonce; false if it was already seen and has not expired. */
  add(nonce: string, requestTimeMs: number): boolean;
  readonly size: number;
}

export interface NonceCacheOptions {
  /** How long after its request timestamp a nonce is kept, ms. */
  windowMs: number;
  /** Hard cap; beyond it the oldest entries are evicted. @default 100000 */
  maxEntries?: number;
  now: () => number;
}

export function createNonceCache(opts: NonceCacheOptions): NonceCache {
  const maxEntries = opts.maxEntries ?? 100_000;
  // Insertion-ordered: the front is (nearly) the oldest, so expiry is amortized O(1).
  const seen = new Map<string, number>();

  const sweepFront = (now: number) => {
    for (const [nonce, expiresAt] of seen) {
      if (expiresAt > now) break;
      seen.delete(nonce);
    }
  };
  const sweepAll = (now: number) => {
    for (const [nonce, expiresAt] of seen) if (expiresAt <= now) seen.delete(nonce);
  };

  return {
    add(nonce, requestTimeMs) {
      const now = opts.now();
      sweepFront(now);
      const existing = seen.get(nonce);
      if (existing !== undefined && existing > now) return false;
      seen.delete(nonce);
      seen.set(nonce, Math.max(requestTimeMs, now) + opts.windowMs);
      if (seen.size > maxEntries) {
        // Timestamps within the window may arrive out of order; a full sweep finds those the front scan missed.
        sweepAll(now);
        while (seen.size > maxEntries) seen.delete(seen.keys().next().value as string);
      }
      return true;
    },
    get size() {
      return seen.size;
    },
  };
}
