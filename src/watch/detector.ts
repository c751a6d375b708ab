/**
 * The rotation detector. Every replica runs one; for each watched key a lease on the bus elects a
 * single poller for the whole cluster, so KMS calls for watching stay at "watched keys ÷ poll
 * interval" whatever the number of watchers or replicas.
 *
 * Per key: every `leaseMs/3` the replica refreshes its interest and either extends its lease or
 * tries to take it (a crashed holder's lease lapses after `leaseMs`). The holder polls with
 * `maxStalenessMs: 0` on the cadence of schedule.ts. It publishes nothing itself: the cache writes
 * what KMS answered and its change feed tells every replica's hub (`noteChecked` here). Any KMS
 * confirmation on that feed (the cache's refresh-ahead or a fill included) counts as the key's
 * check, so a hot, watched key has one schedule: whichever is due first asks KMS.
 *
 * A holder whose own watchers left keeps polling while the interest registry shows watchers on
 * other replicas (no gap while the lease changes hands) and stops, releasing the lease, when the
 * last watcher anywhere has left. If the bus itself fails (Redis down), the replica polls on its
 * own ("degraded") rather than let its watches go silent: KMS calls then grow with replicas, for
 * the length of the outage only, and never with watchers.
 */
import { randomUUID } from 'node:crypto';
import { AccessDeniedError, BackendUnavailableError, SecretNotFoundError } from '../errors';
import type { SecretSelector } from '../model';
import type { Logger } from '../telemetry/logger';
import type { WatchBus } from './bus';
import type { ReadResult, SecretReader } from './reader';
import { nextPollDelayMs, type PollCadence } from './schedule';
import { timeoutSignal } from '../abort';

export interface DetectorOptions {
  bus: WatchBus;
  reader: SecretReader;
  cadence: PollCadence;
  leaseMs: number;
  readTimeoutMs: number;
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
  /** The bus failed; polling on our own until it answers again. */
  degraded: boolean;
  stopped: boolean;
  lastVersionId?: string;
  nextRotationTimeMs?: number;
  /** Local time of the newest check by any replica (for the cadence after a takeover). */
  lastCheckLocalMs?: number;
  interestAtMs: number;
  /** When this replica started tracking the key (local ms). */
  trackedAtMs: number;
  /** The key went unpolled past 3 intervals: warned once until someone polls it again. */
  unpolledWarned?: boolean;
  /** Interest joins and leaves of this key, in order: a leave never overtakes a join in flight. */
  interestOps: Promise<void>;
  failures: number;
  /** When the scheduled poll is due (local ms). */
  pollDueMs?: number;
  tickTimer?: NodeJS.Timeout;
  pollTimer?: NodeJS.Timeout;
  polling?: Promise<void>;
  ticking?: Promise<void>;
}

export class RotationDetector {
  private readonly keys = new Map<string, KeyPoller>();
  private readonly token = randomUUID();
  private readonly closing = new AbortController();
  /** Force-refresh reads made by this replica (tests and metrics). */
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
    const fresh: KeyPoller = { tag, sel, local: true, holding: false, degraded: false, stopped: false, interestAtMs: 0, trackedAtMs: Date.now(), interestOps: Promise.resolve(), failures: 0 };
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
   * The cache's feed reports a KMS confirmation of the key (another replica's poll, any replica's
   * refresh-ahead or fill, or ours): that is this interval's check. It resets the takeover cadence
   * and, while this replica polls the key, moves its next poll one cadence past it, so the key has
   * one schedule for the cluster whichever mechanism asked KMS.
   */
  noteChecked(tag: string, versionId: string): void {
    const p = this.keys.get(tag);
    if (!p) return;
    p.lastVersionId = versionId;
    p.lastCheckLocalMs = Date.now();
    p.unpolledWarned = false;
    if (p.pollDueMs !== undefined && !p.polling) this.schedulePoll(p, nextPollDelayMs(p.lastCheckLocalMs, this.o.cadence, p.nextRotationTimeMs, this.o.random));
  }

  /**
   * A read of the key (this replica's initial load or catch-up): learn its NextRotationDate, and
   * if this replica polls and the rotation falls before the next poll, poll just after it instead.
   */
  noteRead(tag: string, r: ReadResult): void {
    const p = this.keys.get(tag);
    if (!p) return;
    p.nextRotationTimeMs = r.secret.nextRotationTimeMs;
    if (p.nextRotationTimeMs === undefined || p.polling || !(p.holding || p.degraded) || p.pollDueMs === undefined) return;
    const checkAt = p.nextRotationTimeMs + this.o.cadence.rotationDelayMs;
    const now = Date.now();
    if (checkAt > now && checkAt < p.pollDueMs) this.schedulePoll(p, checkAt - now);
  }

  /** `polling`: keys this replica polls (lease held, or bus down); `degraded`: of those, bus down. */
  stats(): { keys: number; polling: number; degraded: number; polls: number; unpolled: number } {
    let polling = 0;
    let degraded = 0;
    for (const p of this.keys.values()) {
      if (p.holding || p.degraded) polling++;
      if (p.degraded) degraded++;
    }
    return { keys: this.keys.size, polling, degraded, polls: this.polls, unpolled: this.unpolled };
  }

  /** Stops every timer, aborts polls in flight, releases held leases and leaves interest. */
  async close(): Promise<void> {
    this.closing.abort(new BackendUnavailableError('watch hub closed'));
    // stop() clears each key's timers synchronously, before any await lets one fire.
    await Promise.all(
      [...this.keys.values()].map((p) =>
        Promise.all([this.stop(p), p.local ? this.leaveInterest(p).catch(() => undefined) : undefined]),
      ),
    );
  }

  private async stop(p: KeyPoller): Promise<void> {
    p.stopped = true;
    clearTimeout(p.tickTimer);
    this.cancelPoll(p);
    if (this.keys.get(p.tag) === p) this.keys.delete(p.tag);
    // A tick in flight may still take the lease: wait for it, then release what we hold.
    await Promise.all([p.polling, p.ticking]);
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
      if (p.holding && !had) this.schedulePoll(p, this.takeoverDelay(p));
      if (!p.holding) this.cancelPoll(p);
      if (had && !p.holding) this.o.log.info('lost the poll lease of a watched key', { tag: p.tag });
    } catch (err) {
      // With no local watchers there is nobody to poll for while the bus is down.
      if (!p.local) return void this.stop(p);
      if (!p.degraded) {
        this.o.log.warn('watch bus unavailable; polling this key locally until it is back', { tag: p.tag, error: err });
        p.degraded = true;
        if (!p.polling) this.schedulePoll(p, this.takeoverDelay(p));
      }
    }
    if (p.stopped) return;
    if (!p.local && !p.holding && !p.degraded) return void this.stop(p);
    this.checkUnpolled(p);
    const every = this.o.leaseMs / 3;
    p.tickTimer = setTimeout(() => this.runTick(p), Math.round(every * (0.9 + 0.2 * this.o.random())));
  }

  /**
   * Someone holds the lease but nobody has polled for 3 intervals: a squatter (a Redis writer
   * renewing a lease it never serves) or a stuck replica. Warn once, count it, and poll here
   * anyway, so rotations still reach this replica's watchers within a few intervals.
   */
  private checkUnpolled(p: KeyPoller): void {
    if (!p.local || p.holding || p.degraded || p.polling) return;
    const last = p.lastCheckLocalMs ?? p.trackedAtMs;
    if (Date.now() - last <= 3 * this.o.cadence.intervalMs) return;
    this.unpolled++;
    if (!p.unpolledWarned) {
      p.unpolledWarned = true;
      this.o.log.warn('a watched key has gone unpolled for 3 intervals although its lease is held; polling it here', { secretName: p.sel.name });
    }
    p.lastCheckLocalMs = Date.now();
    p.polling = this.poll(p, true).finally(() => (p.polling = undefined));
  }

  private runTick(p: KeyPoller): void {
    p.ticking = this.tick(p).finally(() => (p.ticking = undefined));
  }

  /** A new poller continues the previous one's cadence instead of polling at once. */
  private takeoverDelay(p: KeyPoller): number {
    const last = p.lastCheckLocalMs ?? Date.now();
    return Math.max(0, last + nextPollDelayMs(last, this.o.cadence, p.nextRotationTimeMs, this.o.random) - Date.now());
  }

  private cancelPoll(p: KeyPoller): void {
    clearTimeout(p.pollTimer);
    p.pollDueMs = undefined;
  }

  private schedulePoll(p: KeyPoller, delayMs: number): void {
    this.cancelPoll(p);
    if (p.stopped) return;
    p.pollDueMs = Date.now() + delayMs;
    p.pollTimer = setTimeout(() => {
      p.pollDueMs = undefined;
      p.polling = this.poll(p).finally(() => (p.polling = undefined));
    }, delayMs);
  }

  private async poll(p: KeyPoller, unpolled = false): Promise<void> {
    if (p.stopped || (!p.holding && !p.degraded && !unpolled)) return;
    try {
      if (!p.local && (await this.o.bus.interestCount(p.tag)) === 0 && !p.local) return void this.stop(p);
      const r = await this.forceRead(p);
      p.lastVersionId = r.secret.versionId;
      p.lastCheckLocalMs = Date.now();
      p.nextRotationTimeMs = r.secret.nextRotationTimeMs;
      if (p.failures > 0) this.o.log.info('watched secret readable again', { secretName: p.sel.name, failures: p.failures });
      p.failures = 0;
    } catch (err) {
      // NotFound / AccessDenied: the cache evicted the entry and its feed ends the watches.
      if (err instanceof SecretNotFoundError || err instanceof AccessDeniedError) return;
      if (!this.closing.signal.aborted) {
        // Keep polling: the watch shows growing staleness, and the next success still delivers.
        (p.failures++ === 0 ? this.o.log.warn : this.o.log.debug)('polling a watched secret failed', { secretName: p.sel.name, error: err });
      }
    } finally {
      if (!p.stopped && (p.holding || p.degraded)) {
        this.schedulePoll(p, nextPollDelayMs(Date.now(), this.o.cadence, p.nextRotationTimeMs, this.o.random));
      }
    }
  }

  private async forceRead(p: KeyPoller): Promise<ReadResult> {
    const t = timeoutSignal(this.o.readTimeoutMs, this.closing.signal);
    try {
      this.polls++;
      const r = await this.o.reader.get(p.sel, { signal: t.signal, maxStalenessMs: 0 });
      // A stale answer means KMS was not reached: not a confirmation, so no beat goes out.
      if (r.freshness.source === 'STALE') throw new BackendUnavailableError('KMS unreachable (the cache answered stale)');
      return r;
    } finally {
      t.clear();
    }
  }
}
