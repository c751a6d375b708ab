/**
 * What one replica knows about one watched key, and its local subscribers. The current version is
 * loaded once (shared by every local stream), then kept current by the poller's events: a
 * "checked" event naming another version triggers a re-read through the cache (a shared-tier hit,
 * no KMS call) and the new version is pushed to every subscriber's coalescing slot.
 */
import type { SecretSelector } from '../model';
import type { Logger } from '../telemetry/logger';
import type { FreshnessInfo, ReadResult, SecretReader } from './reader';
import type { CoalescingSubscriber } from './subscriber';
import { abortable, timeoutSignal } from '../abort';

/** What the newest event says: this version was current at this time (poller's clock). */
export interface Expectation {
  versionId?: string;
  checkedAtMs: number;
}

export interface KeyStateDeps {
  reader: SecretReader;
  log: Logger;
  /** Aborts every read when the hub closes. */
  closed: AbortSignal;
  readTimeoutMs: number;
  /** Every accepted read (the detector learns NextRotationDate from it). */
  onRead?(r: ReadResult): void;
}

export class KeyState {
  readonly subscribers = new Set<CoalescingSubscriber>();
  /** The version this replica's streams are on; undefined until loaded. */
  private current: ReadResult | undefined;
  /** The newest time any replica confirmed `current` with KMS (poller's clock). */
  private checkedAtMs = 0;
  private loading: Promise<ReadResult> | undefined;
  /** Poll results applied so far (orders cache reads against them). */
  private polls = 0;
  private wanted: Expectation | undefined;
  private refreshing = false;

  constructor(
    readonly sel: SecretSelector,
    readonly tag: string,
    private readonly deps: KeyStateDeps,
  ) {}

  /**
   * The state a new stream starts from, read through the cache (normally an L1 hit; concurrent
   * openers share one load). Never answered from `current` alone: after a NotFound or
   * AccessDenied the cache has evicted the value, and a new stream must not be handed it.
   */
  async initial(signal: AbortSignal): Promise<ReadResult> {
    const epoch = this.polls;
    this.loading ??= this.read(undefined)
      .then((r) => {
        this.acceptRead(r, epoch);
        return this.current ?? r;
      })
      .finally(() => (this.loading = undefined));
    // One stream giving up must not abort the load other streams share.
    return this.snapshot(await abortable(this.loading, signal));
  }

  /** Freshness for a heartbeat: the source of the current value, the newest confirmation time. */
  freshness(): FreshnessInfo | undefined {
    return this.current && { source: this.current.freshness.source, checkedAtMs: this.checkedAtMs };
  }

  /** This replica's own poll result: KMS just confirmed it, so it supersedes reads in flight. */
  /** The version this replica's streams of the key hold now, if loaded. */
  get currentVersionId(): string | undefined {
    return this.current?.secret.versionId;
  }

  acceptPolled(r: ReadResult): void {
    this.polls++;
    this.apply(r);
  }

  /**
   * A cache read that started when `epoch` polls had been applied. If a poll result landed while
   * it was in flight, a different version from it is older news: dropping it keeps a stream from
   * ever stepping back to a previous version.
   */
  private acceptRead(r: ReadResult, epoch: number): void {
    if (epoch !== this.polls && r.secret.versionId !== this.current?.secret.versionId) return;
    this.apply(r);
  }

  /**
   * A different version becomes current and goes to every subscriber; the same version only
   * advances the confirmation time.
   */
  private apply(r: ReadResult): void {
    this.deps.onRead?.(r);
    this.checkedAtMs = Math.max(this.checkedAtMs, r.freshness.checkedAtMs);
    if (this.current?.secret.versionId === r.secret.versionId) return;
    this.current = r;
    const update = this.snapshot(r);
    for (const s of this.subscribers) s.push(update);
  }

  /** A poller confirmed a version: advance freshness, and catch up if it is not ours. */
  onChecked(e: Expectation): void {
    if (e.versionId === this.current?.secret.versionId) {
      this.checkedAtMs = Math.max(this.checkedAtMs, e.checkedAtMs);
      return;
    }
    this.catchUp(e);
  }

  /** Re-reads (after a lost event feed) unless something newer than we know turns up. */
  resync(): void {
    if (this.current) this.catchUp({ checkedAtMs: this.checkedAtMs });
  }

  /** Ends every subscriber with `err` (secret deleted, access revoked, hub closing). */
  end(err: Error): void {
    for (const s of this.subscribers) s.end(err);
    this.current = undefined;
  }

  private snapshot(r: ReadResult): ReadResult {
    return { secret: r.secret, freshness: { source: r.freshness.source, checkedAtMs: Math.max(this.checkedAtMs, r.freshness.checkedAtMs) } };
  }

  /** Serialized: one re-read at a time per key; requests made meanwhile collapse into the newest. */
  private catchUp(e: Expectation): void {
    if (!this.wanted || e.checkedAtMs >= this.wanted.checkedAtMs) this.wanted = e;
    if (this.refreshing) return;
    this.refreshing = true;
    void this.drain().finally(() => (this.refreshing = false));
  }

  private async drain(): Promise<void> {
    if (this.loading) await this.loading.catch(() => undefined);
    while (this.wanted && !this.deps.closed.aborted && this.subscribers.size > 0) {
      const want = this.wanted;
      this.wanted = undefined;
      if (want.versionId !== undefined && want.versionId === this.current?.secret.versionId) continue;
      try {
        await this.reReadUntil(want);
      } catch (err) {
        // The watch stays open: the next poller event tries again (Envoy #42438: a failed update
        // must not silence the stream). Deletion and revocation arrive as "gone" events.
        this.deps.log.warn('re-reading a watched secret failed', { secretName: this.sel.name, error: err });
      }
    }
  }

  /**
   * First a plain cache read (a shared-tier hit on most replicas). If this replica's L1 still held
   * the old version, read once more with a staleness bound that admits the entry the poller just
   * wrote but not the one L1 holds: that skips L1, is served by the shared tier, and is never a
   * forced KMS read. The bound sits halfway between the two confirmation times, which both come
   * from the poller's clock, so clock skew between replicas up to half a poll interval is harmless.
   */
  private async reReadUntil(want: Expectation): Promise<void> {
    const gap = Math.max(0, want.checkedAtMs - this.checkedAtMs);
    const bound = Math.max(1, Math.max(0, Date.now() - want.checkedAtMs) + Math.floor(gap / 2));
    for (const maxStalenessMs of [undefined, bound]) {
      const epoch = this.polls;
      const r = await this.read(maxStalenessMs);
      if (r.secret.versionId === want.versionId || r.freshness.checkedAtMs >= want.checkedAtMs) {
        this.acceptRead(r, epoch);
        return;
      }
    }
    this.deps.log.debug('cache has not caught up with the poller yet; waiting for the next event', { secretName: this.sel.name });
  }

  private async read(maxStalenessMs: number | undefined): Promise<ReadResult> {
    const t = timeoutSignal(this.deps.readTimeoutMs, this.deps.closed);
    try {
      return await this.deps.reader.get(this.sel, maxStalenessMs === undefined ? { signal: t.signal } : { signal: t.signal, maxStalenessMs });
    } finally {
      t.clear();
    }
  }
}
