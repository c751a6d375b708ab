/**
 * The refresh-ahead election of one key, run by the refresher when the key is due (refresh-ahead
 * of a hot entry, or a watched key's scheduled check): read the shared tier (a check by any
 * replica counts), take the refresh lease, double-check, then refresh through the key's own
 * flight. A replica that loses the election looks again when the winner's lease would be over.
 */
import { randomBytes } from 'node:crypto';
import { AccessDeniedError, SecretNotFoundError } from '../errors';
import type { Logger } from '../telemetry/logger';
import type { Breaker } from './breaker';
import type { CacheConfig } from './config';
import type { CacheEntry } from './entry';
import type { L1 } from './l1';
import type { LoadResult, Loader, Target } from './loader';
import type { SharedTier } from './sharedTier';
import type { SingleFlight } from './singleFlight';
import type { WatchedKeys } from './watched';

/**
 * An entry due sooner than this is refreshed now rather than adopted: adopting returns its due
 * time, and one that has passed by the time the refresher re-arms is taken as "could not move
 * forward" and pushed back a whole retry interval (a watched key then missed its cadence by 5 s).
 */
const ADOPT_MARGIN_MS = 25;

export interface RefreshElectionDeps {
  config: CacheConfig;
  now: () => number;
  logger: Logger;
  tier: SharedTier;
  breaker: Breaker;
  loader: Loader;
  flights: SingleFlight<LoadResult>;
  l1: L1;
  watched: WatchedKeys;
  /** When an entry is next due (refresh-ahead, or the watch cadence when that is earlier). */
  dueOf(t: Target, e: CacheEntry | undefined): number;
}

export class RefreshElection {
  /** Watched keys refreshed here although another holder's lease had gone unserved for two leases. */
  squatted = 0;
  private readonly warned = new Set<string>();

  constructor(private readonly d: RefreshElectionDeps) {}

  /** One refresh-ahead (or scheduled check) of `t`; resolves to the next due time, or undefined to stop tracking. */
  async refresh(t: Target): Promise<number | undefined> {
    const now = this.d.now();
    let seen: CacheEntry | null = null;
    let leaseToken: string | undefined;
    try {
      if (this.d.breaker.available) {
        try {
          const got = await this.d.loader.read(t);
          if (got.negative) return undefined;
          seen = got.entry;
          if (seen && this.d.dueOf(t, seen) > now + ADOPT_MARGIN_MS && this.d.loader.admits(t, seen)) return this.adopt(t, seen);
          leaseToken = randomBytes(16).toString('base64url');
          if (await this.d.breaker.run(() => this.d.tier.tryLease(t.tag, leaseToken!, this.d.config.refreshLeaseMs))) {
            const again = await this.d.loader.read(t); // double-check: it may have been refreshed before our claim
            if (again.entry && this.d.dueOf(t, again.entry) > this.d.now() + ADOPT_MARGIN_MS && this.d.loader.admits(t, again.entry)) return this.adopt(t, again.entry);
            seen = again.entry;
          } else {
            leaseToken = undefined; // another replica refreshes; look again when its lease would be over
            // Judged on what L2 holds, or (nothing there) on this replica's copy: a squatter who also
            // deleted the value must not hold the key up for good.
            const held = this.d.l1.peek(t.key);
            const judged = seen ?? (held?.kind === 'value' ? held.entry : null);
            if (!this.leaseSquatted(t, judged, now)) return now + Math.min(this.d.config.refreshLeaseMs, Math.max(this.d.config.fillPollMs, seen ? (seen.freshUntilMs - now) / 2 : this.d.config.refreshLeaseMs));
          }
        } catch {
          seen = null; // shared tier unavailable: refresh for this replica only
        }
      }
      const local = this.d.l1.peek(t.key);
      const base = seen ?? (local?.kind === 'value' ? local.entry : null);
      const rank = base ? base.checkedAtMs + 1 : this.d.now();
      // A flight of its own: reads must not join (and wait for) a refresh while the entry is still fresh.
      const r = await this.d.flights.do(`${t.key}\0refresh`, rank, (signal, fr) => this.d.loader.load(t, fr, signal), { accept: () => true }).catch((err: unknown) => {
        this.d.watched.checked(t.tag, err);
        throw err;
      });
      if (r.source === 'KMS' || r.source === 'STALE') this.d.watched.checked(t.tag, r.source === 'STALE' ? r.cause : undefined);
      return r.source === 'STALE' ? this.d.now() + this.d.config.refreshRetryMs : this.d.dueOf(t, r.entry);
    } catch (err) {
      if (err instanceof SecretNotFoundError || err instanceof AccessDeniedError) return undefined;
      throw err;
    } finally {
      if (leaseToken) {
        const token = leaseToken;
        await this.d.breaker.run(() => this.d.tier.releaseLease(t.tag, token)).catch(() => {});
      }
    }
  }

  /**
   * A watched key overdue by two refresh leases while its lease is held: a stuck replica, or a
   * Redis writer renewing a plausible lease it never serves. The rotation must still get through,
   * so this replica refreshes it anyway (its single-flight and the KMS budget still bound it),
   * warned once per key and counted.
   */
  private leaseSquatted(t: Target, seen: CacheEntry | null, now: number): boolean {
    if (!seen || !this.d.watched.has(t.tag) || now - this.d.dueOf(t, seen) <= 2 * this.d.config.refreshLeaseMs) return false;
    this.squatted++;
    if (!this.warned.has(t.tag)) {
      if (this.warned.size >= 1000) this.warned.clear();
      this.warned.add(t.tag);
      this.d.logger.warn('cache: a watched key went unrefreshed for two refresh leases although its lease is held; refreshing it here', { secretName: t.sel.name });
    }
    return true;
  }

  private adopt(t: Target, e: CacheEntry): number {
    this.d.l1.setValue(t.key, t.tag, e, this.d.now());
    return this.d.dueOf(t, e);
  }
}
