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
 * first), gone exactly when Redis lost everything (this needs a maxmemory policy that never evicts
 * keys without a TTL: noeviction or volatile-*). Each replica re-reads it every second and
 * remembers when it last saw the old id. When the id changes, only entries confirmed before that
 * last sighting (less the replicas' clock skew) are known to predate the loss: the loader may
 * answer those stale (within max-stale, only when KMS fails transiently). Entries confirmed after
 * it, including any written into the new Redis before this replica noticed, still fail closed.
 *
 * What a Redis writer gains by deleting the epoch: a replica that missed an eviction event may
 * answer its L1 copy stale while KMS is unreachable, as it would with Redis down. A replica that
 * received the (authenticated) event has dropped the value and its high-water mark refuses it.
 */
import { randomUUID } from 'node:crypto';
import type { Breaker } from './breaker';
import type { SharedTier } from './sharedTier';

/** How often the epoch is re-read: the window in which an entry's relation to a restart is unknown. */
const CHECK_EVERY_MS = 1_000;

export class TierEpoch {
  private known: string | undefined;
  /** When this replica last saw `known` in the tier (local ms). */
  private confirmedAtMs = -Infinity;
  /** Entries confirmed before this (less skew) predate a loss of the tier's data; -Infinity: none seen. */
  private lostBeforeMs = -Infinity;
  /** Epoch reads run once at a time: concurrent misses share one round trip. */
  private pending: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly tier: SharedTier,
    private readonly breaker: Breaker,
    private readonly now: () => number,
    /** Clock difference tolerated between replicas (entries carry the fetching replica's clock). */
    private readonly skewMs: number,
  ) {}

  /** Reads the epoch now and every few seconds until `close()`. */
  start(): void {
    this.observe().catch(() => undefined);
    this.timer = setInterval(() => void this.observe().catch(() => undefined), CHECK_EVERY_MS);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Reads (or sets) the tier's epoch; throws when the tier is unavailable. */
  observe(): Promise<void> {
    this.pending ??= this.breaker
      .run(() => this.tier.epoch(randomUUID()))
      .then((id) => {
        if (this.known !== undefined && id !== this.known) this.lostBeforeMs = this.confirmedAtMs;
        this.known = id;
        this.confirmedAtMs = this.now();
      })
      .finally(() => (this.pending = undefined));
    return this.pending;
  }

  /**
   * Whether an L1 entry confirmed at `checkedAtMs` may be missing from the tier because the tier
   * lost its data since. False when that cannot be told (the epoch unreadable, or no loss seen).
   */
  async lostSince(checkedAtMs: number): Promise<boolean> {
    try {
      await this.observe();
    } catch {
      return false;
    }
    return checkedAtMs + this.skewMs <= this.lostBeforeMs;
  }
}
