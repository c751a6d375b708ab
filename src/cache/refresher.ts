/**
 * Refresh-ahead scheduling for hot entries. Each replica tracks the entries it serves (bounded)
 * with one timer each, due at the entry's refreshAtMs (a fraction of its TTL, or just after a
 * rotation). When a timer fires for an entry read within `hotWindowMs`, `refresh` runs: the store
 * decides (through a Redis lease) which one replica actually calls the source; the others learn the
 * new timing from the shared tier. So a hot secret never expires on the request path.
 *
 * A watched key is *pinned* (`pin`, from SecretStore.schedule): tracked whether or not refresh-ahead
 * is enabled or the key is read, never dropped for leaving the hot window, and kept (retried) when
 * its entry is evicted, until `unpin`. Its due time is the earlier of refresh-ahead and the watch
 * cadence (see watched.ts), so this timer is the only one that decides when KMS is asked for it.
 */
import { timerMs } from '../abort';
import type { Logger } from '../telemetry/logger';
import type { Target } from './loader';

export interface RefresherOptions {
  enabled: boolean;
  hotWindowMs: number;
  refreshRetryMs: number;
  maxTracked: number;
  now: () => number;
  logger: Logger;
  /** One refresh-ahead; resolves to the next due time, or undefined to stop tracking. */
  refresh(t: Target): Promise<number | undefined>;
}

interface Tracked {
  t: Target;
  dueAtMs: number;
  lastReadAtMs: number;
  timer?: NodeJS.Timeout;
  running: boolean;
  /** Watched: tracked until unpinned, whatever the reads. */
  pinned: boolean;
}

export class Refresher {
  private readonly tracked = new Map<string, Tracked>();
  private closed = false;

  constructor(private readonly o: RefresherOptions) {}

  /** Entries tracked (each has at most one timer). */
  get size(): number {
    return this.tracked.size;
  }

  /** Timers armed right now. */
  get timers(): number {
    let n = 0;
    for (const e of this.tracked.values()) if (e.timer) n++;
    return n;
  }

  /**
   * Schedules `t` at `dueAtMs`. With `readAtMs` (a read got it) the entry starts being tracked;
   * without (a write), only an entry already tracked is rescheduled.
   */
  track(t: Target, dueAtMs: number, readAtMs?: number): void {
    if (this.closed) return;
    let e = this.tracked.get(t.tag);
    if (!this.o.enabled && !e?.pinned) return;
    if (!Number.isFinite(dueAtMs)) return this.untrack(t.tag);
    if (!e) {
      if (readAtMs === undefined || this.tracked.size >= this.o.maxTracked) return;
      e = { t, dueAtMs, lastReadAtMs: readAtMs, running: false, pinned: false };
      this.tracked.set(t.tag, e);
    }
    if (readAtMs !== undefined) e.lastReadAtMs = Math.max(e.lastReadAtMs, readAtMs);
    e.dueAtMs = dueAtMs;
    if (!e.running) this.arm(e);
  }

  /** Notes a read of a tracked entry (keeps it hot). */
  touch(tag: string, now: number): void {
    const e = this.tracked.get(tag);
    if (e) e.lastReadAtMs = now;
  }

  /** Runs the entry's refresh now if it is tracked and idle (a read noticed it is due). */
  kick(tag: string): void {
    const e = this.tracked.get(tag);
    if (e && !e.running && !this.closed) this.fire(e);
  }

  /**
   * Tracks `t` as watched, due at `dueAtMs`, until `unpin`. Bounded by the watch hub's keys (each
   * also holds one of the store's bounded subscriptions), not by maxTracked.
   */
  pin(t: Target, dueAtMs: number): void {
    if (this.closed) return;
    const e = this.tracked.get(t.tag) ?? { t, dueAtMs, lastReadAtMs: 0, running: false, pinned: true };
    this.tracked.set(t.tag, e);
    e.pinned = true;
    e.dueAtMs = dueAtMs;
    if (!e.running) this.arm(e);
  }

  /** No longer watched: an entry that is read hot goes on being refreshed ahead, others stop. */
  unpin(tag: string): void {
    const e = this.tracked.get(tag);
    if (!e?.pinned) return;
    e.pinned = false;
    if (!this.o.enabled || this.o.now() - e.lastReadAtMs > this.o.hotWindowMs) this.drop(tag);
  }

  /** Stops refreshing `tag` (its entry is gone); a pinned key is retried instead, as its watchers still wait. */
  untrack(tag: string): void {
    const e = this.tracked.get(tag);
    if (!e?.pinned) return this.drop(tag);
    e.dueAtMs = this.o.now() + this.o.refreshRetryMs;
    if (!e.running) this.arm(e);
  }

  private drop(tag: string): void {
    const e = this.tracked.get(tag);
    if (!e) return;
    clearTimeout(e.timer);
    this.tracked.delete(tag);
  }

  close(): void {
    this.closed = true;
    for (const e of this.tracked.values()) clearTimeout(e.timer);
    this.tracked.clear();
  }

  private arm(e: Tracked): void {
    clearTimeout(e.timer);
    e.timer = setTimeout(() => this.fire(e), timerMs(e.dueAtMs - this.o.now()));
    e.timer.unref();
  }

  private fire(e: Tracked): void {
    clearTimeout(e.timer);
    e.timer = undefined;
    if (this.closed || this.tracked.get(e.t.tag) !== e) return;
    if (!e.pinned && this.o.now() - e.lastReadAtMs > this.o.hotWindowMs) return this.drop(e.t.tag);
    e.running = true;
    this.o.refresh(e.t).then(
      (next) => this.done(e, next),
      (err: unknown) => {
        this.o.logger.debug('cache: refresh-ahead failed', { secretName: e.t.sel.name, error: err as Error });
        this.done(e, this.o.now() + this.o.refreshRetryMs);
      },
    );
  }

  private done(e: Tracked, next: number | undefined): void {
    e.running = false;
    if (this.closed || this.tracked.get(e.t.tag) !== e) return;
    if (!e.pinned && (next === undefined || !Number.isFinite(next))) return this.drop(e.t.tag);
    // Never spin on a time already past (e.g. the refresh could not move the entry forward).
    const now = this.o.now();
    e.dueAtMs = next !== undefined && Number.isFinite(next) && next > now ? next : now + this.o.refreshRetryMs;
    this.arm(e);
  }
}
