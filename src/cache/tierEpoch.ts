/**
 * Tells "Redis lost its data" apart from "another replica evicted this entry".
 *
 * While the shared tier is reachable, an L1 value it does not hold is normally not answered stale:
 * L2 keeps every value for its whole stale window, so a missing one was evicted (NotFound,
 * AccessDenied) by a replica whose event this one may have missed, and the read fails closed. A
 * Redis that restarts without persistence looks the same, and then failing closed turns a KMS
 * outage into failed reads of secrets that were never revoked.
 *
 * The tier keeps an epoch id with no TTL (`<prefix>:epoch`, set NX by whichever replica asks
 * first). It is gone exactly when Redis lost everything. A replica remembers the epoch it knew; when
 * the tier answers another one, entries this replica confirmed before it noticed the change may be
 * missing only because of the loss, so the loader may answer them stale (within max-stale, and
 * only when KMS fails transiently). Entries confirmed after the change still fail closed.
 *
 * What a Redis writer gains by deleting the epoch: a replica that missed an eviction event may
 * answer its L1 copy stale while KMS is unreachable, as it would with Redis down. A replica that
 * received the (authenticated) event has dropped the value and its high-water mark refuses it.
 */
import { randomUUID } from 'node:crypto';
import type { Breaker } from './breaker';
import type { SharedTier } from './sharedTier';

export class TierEpoch {
  private known: string | undefined;
  /** When this replica noticed the tier's data was lost (local ms); -Infinity: never. */
  private lostAtMs = -Infinity;
  /** Epoch checks run once at a time: concurrent misses share one round trip. */
  private pending: Promise<void> | undefined;

  constructor(
    private readonly tier: SharedTier,
    private readonly breaker: Breaker,
    private readonly now: () => number,
  ) {}

  /** Reads (or sets) the tier's epoch; throws when the tier is unavailable. */
  observe(): Promise<void> {
    this.pending ??= this.breaker
      .run(() => this.tier.epoch(randomUUID()))
      .then((id) => {
        if (this.known !== undefined && id !== this.known) this.lostAtMs = this.now();
        this.known = id;
      })
      .finally(() => (this.pending = undefined));
    return this.pending;
  }

  /**
   * Whether an L1 entry confirmed at `checkedAtMs` may be missing from the tier because the tier
   * lost its data since. False when that cannot be told (the epoch never seen, or unreadable).
   */
  async lostSince(checkedAtMs: number): Promise<boolean> {
    const knew = this.known !== undefined;
    try {
      await this.observe();
    } catch {
      return false;
    }
    return knew && checkedAtMs < this.lostAtMs;
  }
}
