/**
 * One fill of one entry, run inside the in-process single-flight (so at most one per key per
 * process). With the shared tier up:
 *   read L2 → usable? answer SHARED_CACHE
 *   else take the cluster fill lock → re-read L2 (someone may just have filled) → call the source
 *   → seal + fenced write + publish "written" → answer KMS;
 *   or, when another replica holds the lock, wait for its "written"/"evicted" message (bounded
 *   poll as fallback) and read again; a crashed holder's lease runs out and the next loop takes it.
 * With the shared tier down (breaker open or a call failing): the source directly, L1 only.
 * Source errors: NotFound → negative entry, evict everywhere, fail; AccessDenied → evict
 * everywhere, fail; transient → the newest value still within max-stale, as STALE; else fail.
 */
import { AccessDeniedError, BackendUnavailableError, SecretNotFoundError, isTransient } from '../errors';
import type { SecretSelector, SecretVersion } from '../model';
import type { Logger } from '../telemetry/logger';
import { abortReason, type AbortScope } from '../abort';
import type { Breaker } from './breaker';
import type { ClusterLock, HeldLock } from './clusterLock';
import type { CacheConfig } from './config';
import { makeEntry, type CacheEntry } from './entry';
import type { EntryCodec } from './entryCodec';
import type { EvictReason, WireEvent } from './events';
import type { FillWaiters } from './fillWaiters';
import type { HighWaterMarks } from './highWater';
import type { L1 } from './l1';
import type { SecretSource } from './secretSource';
import type { SharedRead, SharedTier } from './sharedTier';
import type { TierEpoch } from './tierEpoch';

export interface Target {
  sel: SecretSelector;
  /** selectorKey(sel) */
  key: string;
  /** KeyNamer.tag(key) */
  tag: string;
}

export interface LoadResult {
  entry: CacheEntry;
  source: 'LOCAL_CACHE' | 'SHARED_CACHE' | 'KMS' | 'STALE';
  /** For STALE: the transient source error it stands in for. */
  cause?: unknown;
}

export interface LoaderDeps {
  cfg: CacheConfig;
  now: () => number;
  logger: Logger;
  source: SecretSource;
  tier: SharedTier;
  breaker: Breaker;
  codec: EntryCodec;
  l1: L1;
  waiters: FillWaiters;
  lock: ClusterLock;
  instanceId: string;
  /** Closes on store.close(): ends source calls. One child per call, no listener on the scope. */
  closeScope: AbortScope;
  /** What this replica has seen of each entry: L2 entries older than that are ignored. */
  marks: HighWaterMarks;
  /** Whether the tier lost its data (a restart) since an L1 entry was confirmed. */
  epoch: TierEpoch;
  /** The wire form of an event: encoded and authenticated (cluster/messageAuth.ts). */
  encode(ev: WireEvent): string;
  /** Local notification (subscribers, refresher) after this process wrote or evicted an entry. */
  onLocal(t: Target, e: { type: 'written'; entry: CacheEntry } | { type: 'evicted'; reason: EvictReason }): void;
}

export type Decoded = { entry: CacheEntry | null; negative: { checkedAtMs: number; expiresAtMs: number } | null; raw: string };

export class Loader {
  constructor(private readonly d: LoaderDeps) {}

  /** Loads an entry checked at or after `rank` (epoch ms; -Infinity: any fresh entry). */
  async load(t: Target, rank: number, signal: AbortSignal): Promise<LoadResult> {
    const l1Item = this.d.l1.peek(t.key);
    // Not a version this replica has since seen superseded (an event told it of a rotation).
    const l1Value = l1Item?.kind === 'value' && this.admits(t, l1Item.entry) ? l1Item.entry : undefined;
    let stale = l1Value;
    // Shared tier down: L1's short TTL (convergence with L2) no longer applies; the entry's own does.
    // A copy another replica's write superseded is never LOCAL_CACHE: at most the stale fallback.
    const current = l1Item?.kind === 'value' && l1Item.l1ExpiresAtMs !== -Infinity;
    const local = (): Promise<LoadResult> => {
      const e = l1Value;
      if (e && current && this.d.now() < e.freshUntilMs && e.checkedAtMs >= rank) return Promise.resolve({ entry: e, source: 'LOCAL_CACHE' });
      return this.fetch(t, undefined, stale);
    };
    if (!this.d.breaker.available) return local();
    const startedAt = this.d.now();
    const giveUpAt = startedAt + this.d.cfg.fillMaxWaitMs;
    let firstSeen: string | undefined;
    for (;;) {
      let got: Decoded;
      try {
        got = await this.read(t);
      } catch {
        return local();
      }
      stale = await this.staleCandidate(t, got, l1Value);
      const hit = this.usable(t, got, rank, firstSeen);
      if (hit) return hit;
      firstSeen ??= got.raw;
      let held: HeldLock | null;
      try {
        held = await this.d.lock.tryAcquire(t.tag);
      } catch {
        return local();
      }
      if (held) {
        try {
          // Double-check under the lock: a fill may have landed between our read and our lock.
          const again = await this.read(t).catch(() => undefined);
          const hitAgain = again && this.usable(t, again, rank, firstSeen);
          if (hitAgain) return hitAgain;
          return await this.fetch(t, held, again ? await this.staleCandidate(t, again, l1Value) : stale);
        } finally {
          await held.release();
        }
      }
      // The lock stayed held for two leases and no fill landed. A crashed holder's lock lapses
      // within one lease (and a follower takes it over above), so this holder is stuck, or not a
      // replica at all (a squatter renewing a plausible lock). Ask KMS ourselves, for this
      // replica only (its single-flight and the KMS budget still bound it); L2 stays untouched.
      if (this.d.now() - startedAt >= 2 * this.d.cfg.lockLeaseMs) {
        this.d.logger.warn('cache: the fill lock stayed held for two leases with no fill; reading KMS for this replica', { secretName: t.sel.name });
        return this.fetch(t, undefined, stale);
      }
      if (this.d.now() >= giveUpAt) {
        // Transient like a source failure: answered stale when a stale value is allowed.
        return this.onSourceError(t, undefined, stale, new BackendUnavailableError(`timed out waiting for another replica to fetch "${t.sel.name}"`));
      }
      if ((await this.d.waiters.wait(t.tag, this.d.cfg.fillPollMs, signal)) === 'aborted') throw abortReason(signal);
    }
  }

  /** Reads and opens what L2 holds for `t` (through the breaker; throws when the tier is unavailable). */
  async read(t: Target): Promise<Decoded> {
    const r: SharedRead = await this.d.breaker.runPatient(() => this.d.tier.read(t.tag));
    const entry = r.value !== null ? this.d.codec.openValue(t.key, r.value) : null;
    const negative = r.negative !== null ? this.d.codec.openNegative(t.key, r.negative) : null;
    return { entry, negative, raw: `${r.value ?? ''}\n${r.negative ?? ''}` };
  }

  /**
   * An answer from what L2 holds: a fresh entry checked at/after `rank`, or anything that changed
   * since this fill first looked (a fill that finished after we asked). Same for negative entries.
   */
  private usable(t: Target, got: Decoded, rank: number, firstSeen: string | undefined): LoadResult | undefined {
    const now = this.d.now();
    // Something that changed since this fill first looked was written by a fill that began after
    // the caller asked: accepted within the replicas' clock skew of `rank`, never further (a
    // change alone proves nothing: anyone who can write Redis can change it).
    const changed = firstSeen !== undefined && got.raw !== firstSeen;
    const floor = changed ? rank - this.d.cfg.maxClockSkewMs : rank;
    const neg = got.negative;
    if (neg && now < neg.expiresAtMs && neg.checkedAtMs >= floor && this.d.marks.admitsNegative(t.tag, neg.checkedAtMs)) {
      this.d.l1.setNegative(t.key, t.tag, neg, now);
      throw notFound(t.sel);
    }
    const e = got.entry;
    if (!neg && e && now < e.freshUntilMs && e.checkedAtMs >= floor && this.admits(t, e)) {
      this.d.marks.saw(t.tag, e.secret.versionId, e.checkedAtMs, e.secret.createTimeMs);
      this.d.l1.setValue(t.key, t.tag, e, now);
      return { entry: e, source: 'SHARED_CACHE' };
    }
    return undefined;
  }

  /**
   * What may be answered stale if the source fails, while L2 is reachable: only what L2 holds. It
   * keeps every value for its whole stale window, so an L1 value missing there was evicted
   * (NotFound, AccessDenied) by a replica whose event we may have missed: fail closed, unless
   * the tier lost its data since L1 got the value (tierEpoch.ts).
   */
  private async staleCandidate(t: Target, got: Decoded, l1: CacheEntry | undefined): Promise<CacheEntry | undefined> {
    if (got.negative) return undefined;
    if (got.entry) return this.admits(t, got.entry) ? got.entry : undefined;
    return l1 && (await this.d.epoch.lostSince(l1.checkedAtMs)) ? l1 : undefined;
  }

  /**
   * For a read whose refresh is slow: what it may answer stale now, judged as a failed source
   * would judge it. The tier unavailable: the L1 copy (as `load` answers then); reachable: only
   * what it holds, or the L1 copy when the tier lost its data since (staleCandidate).
   */
  async staleFor(t: Target, l1: CacheEntry): Promise<CacheEntry | undefined> {
    if (!this.d.breaker.available) return l1;
    let got: Decoded;
    try {
      got = await this.read(t);
    } catch {
      return l1;
    }
    return this.staleCandidate(t, got, l1);
  }

  /** Not a rollback: no older version than this replica has seen current, nothing from before an eviction. */
  admits(t: Target, e: CacheEntry): boolean {
    return this.d.marks.admits(t.tag, e.secret.versionId, e.checkedAtMs, e.secret.createTimeMs);
  }

  /** Calls the source. `held`: the cluster lock (shared mode); undefined: local-only mode. */
  private async fetch(t: Target, held: HeldLock | undefined, stale: CacheEntry | undefined): Promise<LoadResult> {
    let secret: SecretVersion;
    // Not any caller's signal: this call is shared by every waiter (and, through L2, every replica).
    // A child of the store's scope, not a listener on its close signal: fills of many keys run at
    // once, and each listener would stay on that one long-lived signal until its fill settles.
    const call = this.d.closeScope.child(this.d.cfg.sourceTimeoutMs, () => new BackendUnavailableError(`source call for "${t.sel.name}" timed out`));
    try {
      secret = await this.d.source.getSecretValue(t.sel, { signal: call.signal });
      if (t.sel.versionId && secret.versionId !== t.sel.versionId) {
        throw new BackendUnavailableError(`source answered version "${secret.versionId}" for version "${t.sel.versionId}" of "${t.sel.name}"`);
      }
    } catch (err) {
      return this.onSourceError(t, held, stale, err);
    } finally {
      call.release();
    }
    const now = this.d.now();
    const entry = makeEntry(secret, now, this.d.cfg);
    this.d.marks.saw(t.tag, secret.versionId, now, secret.createTimeMs);
    this.d.l1.setValue(t.key, t.tag, entry, now);
    if (held) {
      const sealed = this.d.codec.sealValue(t.key, entry);
      const written = await this.d.breaker.run(() => this.d.tier.fillValue(t.tag, held.token, sealed, entry.staleUntilMs - now)).catch(() => false);
      if (written) {
        const msg = this.d.encode({ type: 'written', tag: t.tag, versionId: secret.versionId, checkedAtMs: now, createTimeMs: secret.createTimeMs, origin: this.d.instanceId });
        await this.d.breaker.run(() => this.d.tier.publish(msg)).catch(() => {});
      }
    }
    this.d.onLocal(t, { type: 'written', entry });
    return { entry, source: 'KMS' };
  }

  private async onSourceError(t: Target, held: HeldLock | undefined, stale: CacheEntry | undefined, err: unknown): Promise<LoadResult> {
    if (err instanceof SecretNotFoundError || err instanceof AccessDeniedError) {
      await this.evict(t, held, err instanceof SecretNotFoundError ? 'notFound' : 'accessDenied');
      throw err;
    }
    const now = this.d.now();
    if (isTransient(err) && this.d.cfg.serveStaleOnTransientError && stale && now < stale.staleUntilMs) {
      this.d.logger.warn('cache: source failed, answering a stale value', { secretName: t.sel.name, error: err as Error, versionId: stale.secret.versionId });
      return { entry: stale, source: 'STALE', cause: err };
    }
    throw err;
  }

  /** Fail closed: drop the value from L1 and L2 (NotFound also leaves a negative entry) and tell every replica. */
  private async evict(t: Target, held: HeldLock | undefined, reason: EvictReason): Promise<void> {
    const now = this.d.now();
    const negTtl = this.d.cfg.negativeTtlMs;
    const negative = { checkedAtMs: now, expiresAtMs: now + negTtl };
    this.d.marks.evicted(t.tag, now);
    if (reason === 'notFound' && negTtl > 0) this.d.l1.setNegative(t.key, t.tag, negative, now);
    else this.d.l1.delete(t.key);
    if (this.d.breaker.available) {
      const run = <T>(fn: () => Promise<T>) => this.d.breaker.run(fn).catch(() => undefined);
      let negativeWritten = false;
      if (reason === 'notFound' && negTtl > 0 && held) {
        negativeWritten = (await run(() => this.d.tier.fillNegative(t.tag, held.token, this.d.codec.sealNegative(t.key, negative), negTtl))) === true;
      }
      if (!negativeWritten) await run(() => this.d.tier.evict(t.tag));
      await run(() => this.d.tier.publish(this.d.encode({ type: 'evicted', tag: t.tag, reason, origin: this.d.instanceId })));
    }
    this.d.onLocal(t, { type: 'evicted', reason });
  }
}

export function notFound(sel: SecretSelector): SecretNotFoundError {
  return new SecretNotFoundError(`secret "${sel.name}" not found (cached answer)`);
}
