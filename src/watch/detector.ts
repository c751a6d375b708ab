/**
 * The rotation detector. Every replica runs one; for each watched key a lease on the bus elects the
 * single replica whose cache schedules the key on the watch cadence, so KMS calls for watching stay
 * at "watched keys ÷ poll interval" whatever the number of watchers or replicas.
 *
 * The detector never times a KMS call itself: the elected replica hands the key's cadence
 * (schedule.ts: interval with jitter, just after NextRotationDate + rotationDelay) to the cache
 * (`SecretFeed.schedule`), whose refresher is the key's one scheduler: it asks KMS at the earlier
 * of refresh-ahead and the watch cadence, counting any replica's check it finds in the shared tier,
 * under the refresh lease. The cache writes what KMS answered and its change feed tells every
 * replica's hub (`noteChecked` here).
 *
 * Per key: every `leaseMs/3` the replica refreshes its interest and either extends its lease or
 * tries to take it (a crashed holder's lease lapses after `leaseMs`; the new holder's cache goes on
 * from the last check in the shared tier). A holder whose own watchers left keeps the schedule while
 * the interest registry shows watchers on other replicas (no gap while the lease changes hands) and
 * stops, releasing the lease, when the last watcher anywhere has left. If the bus itself fails
 * (Redis down), the replica schedules the key on its own ("degraded") rather than let its watches go
 * silent: KMS calls then grow with replicas, for the length of the outage only, and never with
 * watchers. A key nobody checked for 3 intervals although its lease is held (a squatter) is
 * scheduled here until one check is made.
 */
import { randomUUID } from 'node:crypto';
import { AccessDeniedError, SecretNotFoundError } from '../errors';
import type { SecretSelector } from '../model';
import type { Logger } from '../telemetry/logger';
import type { WatchBus } from './bus';
import type { CheckPlan, SecretFeed } from './reader';
import { nextPollDelayMs, type PollCadence } from './schedule';

export interface DetectorOptions {
  bus: WatchBus;
  /** The cache's scheduler. */
  feed: Pick<SecretFeed, 'schedule'>;
  cadence: PollCadence;
  leaseMs: number;
  replicaId: string;
  log: Logger;
  random: () => number;
}

interface KeyPoller {
  tag: string;
  sel: SecretSelector;
  /** This replica has watchers on the key. */
  local: boolean;
  holding: boolean;
  /** The bus failed; scheduling on our own until it answers again. */
  degraded: boolean;
  /** Unpolled past 3 intervals although the lease is held: scheduled here until one check is made. */
  catchingUp: boolean;
  stopped: boolean;
  /** Local time of the newest check by any replica (unpolled detection). */
  lastCheckLocalMs?: number;
  interestAtMs: number;
  /** When this replica started tracking the key (local ms). */
  trackedAtMs: number;
  /** The key went unpolled past 3 intervals: warned once until someone polls it again. */
  unpolledWarned?: boolean;
  /** Interest joins and leaves of this key, in order: a leave never overtakes a join in flight. */
  interestOps: Promise<void>;
  failures: number;
  /** The cache schedules the key on the watch cadence while this is open. */
  schedule?: { close(): void };
  tickTimer?: NodeJS.Timeout;
  ticking?: Promise<void>;
}

export class RotationDetector {
  private readonly keys = new Map<string, KeyPoller>();
  private readonly token = randomUUID();
  /** KMS checks this replica's cache made on the watch schedule (tests and metrics). */
  polls = 0;
  /** Times a watched key was found unpolled past 3 intervals, and polled here anyway. */
  unpolled = 0;

  constructor(private readonly o: DetectorOptions) {}

  /** This replica has watchers on `tag` (again). */
  track(tag: string, sel: SecretSelector): void {
    const p = this.keys.get(tag);
    if (p) {
      p.local = true;
      this.joinInterest(p).catch((err) => this.o.log.debug('joining watch interest failed', { error: err }));
      return;
    }
    const fresh: KeyPoller = { tag, sel, local: true, holding: false, degraded: false, catchingUp: false, stopped: false, interestAtMs: 0, trackedAtMs: Date.now(), interestOps: Promise.resolve(), failures: 0 };
    this.keys.set(tag, fresh);
    this.runTick(fresh);
  }

  /** The last local watcher of `tag` left. */
  untrack(tag: string): void {
    const p = this.keys.get(tag);
    if (!p || !p.local) return;
    p.local = false;
    p.interestAtMs = 0;
    this.leaveInterest(p).catch((err) => this.o.log.debug('leaving watch interest failed', { error: err }));
    if (!p.holding && !p.degraded) void this.stop(p);
  }

  /**
   * The cache's feed reports a KMS confirmation of the key (another replica's check, any replica's
   * refresh-ahead or fill, or ours): that is this interval's check (the cache's scheduler already
   * counts it when it looks at the shared tier). Here it only resets unpolled detection.
   */
  noteChecked(tag: string): void {
    const p = this.keys.get(tag);
    if (!p) return;
    p.lastCheckLocalMs = Date.now();
    p.unpolledWarned = false;
    if (p.catchingUp) {
      p.catchingUp = false;
      this.sync(p);
    }
  }

  /** `polling`: keys this replica's cache schedules (lease held, or bus down); `degraded`: of those, bus down. */
  stats(): { keys: number; polling: number; degraded: number; polls: number; unpolled: number } {
    let polling = 0;
    let degraded = 0;
    for (const p of this.keys.values()) {
      if (p.holding || p.degraded) polling++;
      if (p.degraded) degraded++;
    }
    return { keys: this.keys.size, polling, degraded, polls: this.polls, unpolled: this.unpolled };
  }

  /** Stops every timer and schedule, releases held leases and leaves interest. */
  async close(): Promise<void> {
    // stop() clears each key's timer and schedule synchronously, before any await lets one fire.
    await Promise.all(
      [...this.keys.values()].map((p) =>
        Promise.all([this.stop(p), p.local ? this.leaveInterest(p).catch(() => undefined) : undefined]),
      ),
    );
  }

  private async stop(p: KeyPoller): Promise<void> {
    p.stopped = true;
    clearTimeout(p.tickTimer);
    this.sync(p);
    if (this.keys.get(p.tag) === p) this.keys.delete(p.tag);
    // A tick in flight may still take the lease: wait for it, then release what we hold.
    await p.ticking;
    if (p.holding) {
      p.holding = false;
      // Releasing (rather than letting it lapse) lets another replica take over at its next tick.
      await this.o.bus.releaseLease(p.tag, this.token).catch((err) => this.o.log.debug('releasing a poll lease failed', { error: err }));
    }
  }

  private joinInterest(p: KeyPoller): Promise<void> {
    p.interestAtMs = Date.now();
    // Membership outlives three refreshes, so one slow Redis call does not drop it.
    return this.inOrder(p, () => this.o.bus.joinInterest(p.tag, this.o.replicaId, 3 * this.o.leaseMs));
  }

  private leaveInterest(p: KeyPoller): Promise<void> {
    return this.inOrder(p, () => this.o.bus.leaveInterest(p.tag, this.o.replicaId));
  }

  private inOrder(p: KeyPoller, op: () => Promise<void>): Promise<void> {
    const next = p.interestOps.then(op);
    p.interestOps = next.catch(() => undefined);
    return next;
  }

  /** Lease and interest upkeep, every leaseMs/3. */
  private async tick(p: KeyPoller): Promise<void> {
    if (p.stopped) return;
    try {
      if (p.local && Date.now() - p.interestAtMs >= this.o.leaseMs) await this.joinInterest(p);
      // A lingering holder (no local watchers) stops as soon as nobody anywhere watches the key.
      // Re-check p.local after the await: a watcher may have joined meanwhile, and stopping then would
      // leave its key unpolled for good.
      if (!p.local && p.holding && (await this.o.bus.interestCount(p.tag)) === 0 && !p.local) return void this.stop(p);
      const had = p.holding;
      p.holding = had
        ? await this.o.bus.extendLease(p.tag, this.token, this.o.leaseMs)
        : await this.o.bus.acquireLease(p.tag, this.token, this.o.leaseMs);
      if (p.degraded) this.o.log.info('watch bus answers again; back to one poller per key', { tag: p.tag });
      p.degraded = false;
      if (had && !p.holding) this.o.log.info('lost the poll lease of a watched key', { tag: p.tag });
    } catch (err) {
      // With no local watchers there is nobody to poll for while the bus is down.
      if (!p.local) return void this.stop(p);
      if (!p.degraded) {
        this.o.log.warn('watch bus unavailable; polling this key locally until it is back', { tag: p.tag, error: err });
        p.degraded = true;
      }
    }
    if (p.stopped) return;
    this.sync(p);
    if (!p.local && !p.holding && !p.degraded) return void this.stop(p);
    this.checkUnpolled(p);
    const every = this.o.leaseMs / 3;
    p.tickTimer = setTimeout(() => this.runTick(p), Math.round(every * (0.9 + 0.2 * this.o.random())));
  }

  /**
   * Someone holds the lease but nobody has polled for 3 intervals: a squatter (a Redis writer
   * renewing a lease it never serves) or a stuck replica. Warn once, count it, and have this
   * replica's cache check the key anyway, so rotations still reach its watchers within a few intervals.
   */
  private checkUnpolled(p: KeyPoller): void {
    if (!p.local || p.holding || p.degraded || p.catchingUp) return;
    const last = p.lastCheckLocalMs ?? p.trackedAtMs;
    if (Date.now() - last <= 3 * this.o.cadence.intervalMs) return;
    this.unpolled++;
    if (!p.unpolledWarned) {
      p.unpolledWarned = true;
      this.o.log.warn('a watched key has gone unpolled for 3 intervals although its lease is held; polling it here', { secretName: p.sel.name });
    }
    p.lastCheckLocalMs = Date.now();
    p.catchingUp = true;
    this.sync(p);
  }

  private runTick(p: KeyPoller): void {
    p.ticking = this.tick(p).finally(() => (p.ticking = undefined));
  }

  /** Opens the cache's schedule of the key while this replica is to check it, and closes it otherwise. */
  private sync(p: KeyPoller): void {
    const wanted = !p.stopped && (p.holding || p.degraded || p.catchingUp);
    if (wanted && !p.schedule) p.schedule = this.o.feed.schedule(p.sel, this.planOf(p));
    if (!wanted && p.schedule) {
      p.schedule.close();
      p.schedule = undefined;
    }
  }

  private planOf(p: KeyPoller): CheckPlan {
    const { cadence, random } = this.o;
    return {
      nextCheckAtMs: (checkedAtMs, nextRotationTimeMs) => checkedAtMs + nextPollDelayMs(checkedAtMs, cadence, nextRotationTimeMs, random),
      onCheck: (err) => this.checked(p, err),
    };
  }

  /** One KMS check of the key by this replica's cache, on the schedule. */
  private checked(p: KeyPoller, err: unknown): void {
    this.polls++;
    if (err === undefined) {
      if (p.failures > 0) this.o.log.info('watched secret readable again', { secretName: p.sel.name, failures: p.failures });
      p.failures = 0;
      p.lastCheckLocalMs = Date.now();
      if (p.catchingUp) {
        p.catchingUp = false;
        this.sync(p);
      }
      return;
    }
    // NotFound / AccessDenied: the cache evicted the entry and its feed ends the watches.
    if (err instanceof SecretNotFoundError || err instanceof AccessDeniedError || p.stopped) return;
    // Keep checking: the watch shows growing staleness, and the next success still delivers.
    (p.failures++ === 0 ? this.o.log.warn : this.o.log.debug)('polling a watched secret failed', { secretName: p.sel.name, error: err as Error });
  }
}
