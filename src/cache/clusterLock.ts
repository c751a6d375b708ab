/**
 * The cluster-wide fill lock of one entry: `SET lock <random token> NX PX lease`. While held, the
 * lease is renewed every third of itself (compare-and-pexpire), so a slow but live source call
 * keeps it, and a holder that crashes loses it within one lease: a follower then takes over.
 * Released by compare-and-delete, so a holder never deletes a lock that has passed to someone else.
 * The fill itself is fenced by the same token (SharedTier.fillValue), so a holder that lost its
 * lock writes nothing.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../telemetry/logger';
import type { Breaker } from './breaker';
import type { SharedTier } from './sharedTier';

export interface HeldLock {
  readonly tag: string;
  readonly token: string;
  /** True once a renewal found the lock gone (the lease ran out, e.g. during a Redis outage). */
  readonly lost: boolean;
  release(): Promise<void>;
}

export class ClusterLock {
  private heldCount = 0;

  constructor(
    private readonly tier: SharedTier,
    private readonly breaker: Breaker,
    private readonly leaseMs: number,
    private readonly logger: Logger,
  ) {}

  /** Locks held by this process right now (each owns one renewal timer). */
  get held(): number {
    return this.heldCount;
  }

  /** One attempt. Null when someone else holds it; throws SharedTierUnavailableError when the tier is down. */
  async tryAcquire(tag: string): Promise<HeldLock | null> {
    const token = randomBytes(16).toString('base64url');
    // Repeatable: taking a lock that `token` already holds succeeds (a reply lost to a timeout).
    if (!(await this.breaker.runPatient(() => this.tier.tryLock(tag, token, this.leaseMs)))) return null;
    this.heldCount++;
    let lost = false;
    let released = false;
    const renew = setInterval(() => {
      this.breaker.run(() => this.tier.extendLock(tag, token, this.leaseMs)).then(
        (ok) => {
          if (!ok && !released) {
            lost = true;
            clearInterval(renew);
            this.logger.warn('cache: fill lock lost before the fill finished', { tag });
          }
        },
        () => {}, // transient: try again next tick; the fenced fill decides in the end
      );
    }, Math.max(10, Math.floor(this.leaseMs / 3)));
    renew.unref();
    return {
      tag,
      token,
      get lost() {
        return lost;
      },
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(renew);
        this.heldCount--;
        await this.breaker.run(() => this.tier.unlock(tag, token)).catch(() => {
          // The lease expires on its own.
        });
      },
    };
  }
}
