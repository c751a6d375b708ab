/**
 * What one replica knows about one watched key, and its local subscribers. The current version is
 * loaded once (shared by every local stream), then kept current by the cache's change feed: a
 * "written" update naming another version triggers a plain re-read through the cache (the feed
 * has already dropped the L1 entry, so this is a shared-tier hit, never a KMS call) and the new
 * version is pushed to every subscriber's coalescing slot.
 *
 * Order: a version is only ever replaced by news at least as recent as what the streams hold (its
 * `checkedAtMs`), so updates or reads that arrive out of order never take a stream back.
 */
import type { SecretSelector } from '../model';
import type { Logger } from '../telemetry/logger';
import type { FreshnessInfo, ReadResult, SecretReader } from './reader';
import type { CoalescingSubscriber } from './subscriber';
import { abortable, timeoutSignal } from '../abort';

/** What the newest update says: this version was current at this time (writer's clock). */
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
}

export class KeyState {
  readonly subscribers = new Set<CoalescingSubscriber>();
  /** The version this replica's streams are on; undefined until loaded. */
  private current: ReadResult | undefined;
  /** The newest time any replica confirmed `current` with KMS (writer's clock). */
  private checkedAtMs = 0;
  /** The newest `checkedAtMs` of any update heard, applied or not. */
  private heardMs = 0;
  private loading: Promise<ReadResult> | undefined;
  private wanted: Expectation | undefined;
  private refreshing = false;

  constructor(
    readonly sel: SecretSelector,
    private readonly deps: KeyStateDeps,
  ) {}

  /**
   * The state a new stream starts from, read through the cache (normally an L1 hit; concurrent
   * openers share one load). Never answered from `current` alone: after a NotFound or
   * AccessDenied the cache has evicted the value, and a new stream must not be handed it.
   */
  async initial(signal: AbortSignal): Promise<ReadResult> {
    this.loading ??= this.read()
      .then((r) => {
        this.apply(r);
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

  /** The version this replica's streams of the key hold now, if loaded. */
  get currentVersionId(): string | undefined {
    return this.current?.secret.versionId;
  }

  /** The feed says `versionId` was confirmed at `checkedAtMs`: advance freshness, or catch up. */
  onWritten(e: Required<Expectation>): void {
    if (e.versionId === this.current?.secret.versionId) {
      this.checkedAtMs = Math.max(this.checkedAtMs, e.checkedAtMs);
      return;
    }
    // Older news than what we hold or have already heard of (updates out of order): nothing to do.
    if (e.checkedAtMs < Math.max(this.checkedAtMs, this.heardMs)) return;
    this.heardMs = e.checkedAtMs;
    this.catchUp(e);
  }

  /** Re-reads (after a lost feed) unless something newer than we know turns up. */
  resync(): void {
    if (this.current) this.catchUp({ checkedAtMs: this.checkedAtMs });
  }

  /** Ends every subscriber with `err` (secret deleted, access revoked, hub closing). */
  end(err: Error): void {
    for (const s of this.subscribers) s.end(err);
    this.current = undefined;
  }

  /**
   * A different version, at least as recent as the current one, becomes current and goes to every
   * subscriber; the same version only advances the confirmation time.
   */
  private apply(r: ReadResult): void {
    if (this.current?.secret.versionId === r.secret.versionId) {
      this.checkedAtMs = Math.max(this.checkedAtMs, r.freshness.checkedAtMs);
      return;
    }
    if (this.current && r.freshness.checkedAtMs < this.checkedAtMs) return;
    this.current = r;
    this.checkedAtMs = Math.max(this.checkedAtMs, r.freshness.checkedAtMs);
    const update = this.snapshot(r);
    for (const s of this.subscribers) s.push(update);
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
        const r = await this.read();
        // A read that is older than the update that asked for it (the shared tier not written yet,
        // or unreachable) is not applied: the next update tries again.
        if (r.secret.versionId === want.versionId || r.freshness.checkedAtMs >= want.checkedAtMs) this.apply(r);
        else this.deps.log.debug('cache has not caught up with the update yet; waiting for the next one', { secretName: this.sel.name });
      } catch (err) {
        // The watch stays open: the next update tries again (Envoy #42438: a failed update must
        // not silence the stream). Deletion and revocation arrive as "evicted" updates.
        this.deps.log.warn('re-reading a watched secret failed', { secretName: this.sel.name, error: err });
      }
    }
  }

  private async read(): Promise<ReadResult> {
    const t = timeoutSignal(this.deps.readTimeoutMs, this.deps.closed);
    try {
      return await this.deps.reader.get(this.sel, { signal: t.signal });
    } finally {
      t.clear();
    }
  }
}
