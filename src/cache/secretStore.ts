/**
 * The secret store: L1 (in-process LRU) → shared tier (Redis or memory, sealed) → source (KMS),
 * with in-process and cluster-wide single-flight, refresh-ahead, stale-on-transient-error,
 * negative caching and a breaker around the shared tier. See loader.ts for the fill algorithm.
 */
import { randomBytes } from 'node:crypto';
import { BackendUnavailableError } from '../errors';
import { selectorKey, type SecretSelector, type SecretVersion } from '../model';
import { silentLogger, type Logger } from '../telemetry/logger';
import { AbortScope, abortable } from '../abort';
import { Breaker, type BreakerState } from './breaker';
import { ClusterLock } from './clusterLock';
import { resolveCacheConfig, type CacheConfig } from './config';
import { EntryCodec } from './entryCodec';
import type { CacheEntry } from './entry';
import { decodeEvent, encodeEvent, type CacheUpdateListener, type EvictReason } from './events';
import { MessageAuth, type RejectReason } from '../cluster/messageAuth';
import { HighWaterMarks } from './highWater';
import { TierEpoch } from './tierEpoch';
import { RefreshElection } from './refreshElection';
import { FillWaiters } from './fillWaiters';
import type { KeyRing } from './keyRing';
import { KeyNamer } from './keys';
import { L1, type L1Item } from './l1';
import { Loader, notFound, type LoadResult, type Target } from './loader';
import { Refresher } from './refresher';
import { Sealer } from './seal';
import type { SecretSource } from './secretSource';
import type { SharedTier } from './sharedTier';
import { SingleFlight } from './singleFlight';
import { Subscriptions } from './subscriptions';
import { WatchedKeys, type CheckPlan } from './watched';

export type FreshnessSource = 'LOCAL_CACHE' | 'SHARED_CACHE' | 'KMS' | 'STALE';

export interface CacheResult {
  secret: SecretVersion;
  freshness: { source: FreshnessSource; checkedAtMs: number };
  /** The entry that answered, as an opaque key for data derived from it (server: its encoded answer). */
  memo: object;
}

export interface GetOptions {
  signal?: AbortSignal;
  /** An answer last checked against the source longer ago than this is not acceptable (RPC max_staleness); 0 forces a source round trip. */
  maxStalenessMs?: number;
  /**
   * Called (and may throw, e.g. a per-caller ResourceExhaustedError) when this read cannot be
   * answered from the in-process cache and would start a fill of its own: the reads that may
   * spend the cluster's KMS budget. Joining a fill already running costs nothing and is not asked.
   */
  admitMiss?: () => void;
}

export interface SecretStoreDeps {
  source: SecretSource;
  tier: SharedTier;
  keyRing: KeyRing;
  config?: Partial<CacheConfig>;
  logger?: Logger;
  /** Told of each change-feed message dropped as not authentic or not recent (metrics). */
  onRejectedMessage?: (reason: RejectReason) => void;
  /** Epoch ms. @default Date.now */
  now?: () => number;
  /** Share one breaker with the Redis budget, if wanted. @default a new one from config */
  breaker?: Breaker;
}

export interface StoreStats {
  l1Size: number;
  inFlight: number;
  waiters: number;
  pendingFillWaiters: number;
  heldLocks: number;
  trackedRefreshes: number;
  refreshTimers: number;
  subscriptions: number;
  breaker: BreakerState;
  /** Reads that joined a fill already running in this process (cumulative). */
  coalescedReads: number;
  /** Reads answered STALE because their refresh took longer than staleIfSlowMs (cumulative). */
  staleIfSlowAnswers: number;
  /** Watched keys refreshed here although another holder's refresh lease had gone unserved for two leases (cumulative). */
  squattedRefreshLeases: number;
}

export class SecretStore {
  readonly config: CacheConfig;
  private readonly now: () => number;
  private readonly logger: Logger;
  private readonly tier: SharedTier;
  private readonly namer: KeyNamer;
  private readonly l1: L1;
  private readonly breaker: Breaker;
  private readonly waiters: FillWaiters;
  private readonly lock: ClusterLock;
  private readonly loader: Loader;
  private readonly flights: SingleFlight<LoadResult>;
  private readonly refresher: Refresher;
  private readonly subs: Subscriptions;
  private readonly watched = new WatchedKeys();
  private readonly closer = new AbortScope();
  private readonly auth: MessageAuth;
  private readonly marks: HighWaterMarks;
  private readonly epoch: TierEpoch;
  private readonly election: RefreshElection;
  private readonly subscribed: Promise<void>;
  private readonly instanceId = randomBytes(8).toString('base64url');
  private closed = false;
  private coalesced = 0;
  private slowAnswers = 0;

  constructor(deps: SecretStoreDeps) {
    const cfg = (this.config = resolveCacheConfig(deps.config));
    this.now = deps.now ?? Date.now;
    this.logger = deps.logger ?? silentLogger;
    this.tier = deps.tier;
    this.namer = new KeyNamer(deps.keyRing.namingKey, cfg.keyPrefix);
    this.l1 = new L1(cfg.l1MaxEntries, cfg.l1TtlMs);
    this.subs = new Subscriptions(cfg.maxSubscriptions, this.logger);
    this.breaker =
      deps.breaker ??
      new Breaker({
        failureThreshold: cfg.breakerFailureThreshold,
        openMs: cfg.breakerOpenMs,
        now: this.now,
        onStateChange: (s) => this.logger[s === 'open' ? 'warn' : 'info']('cache: shared tier breaker ' + s, { tier: this.tier.kind }),
      });
    this.waiters = new FillWaiters(cfg.maxFlights);
    this.lock = new ClusterLock(this.tier, this.breaker, cfg.lockLeaseMs, this.logger);
    this.flights = new SingleFlight<LoadResult>({ maxWaitersPerKey: cfg.maxWaitersPerKey, maxFlights: cfg.maxFlights });
    this.marks = new HighWaterMarks(cfg.highWaterMarks, cfg.maxClockSkewMs);
    this.epoch = new TierEpoch(this.tier, this.breaker, this.now, cfg.maxClockSkewMs);
    this.auth = new MessageAuth({ key: deps.keyRing.channelKey, channel: 'cache', now: this.now, logger: this.logger, ...(deps.onRejectedMessage ? { onReject: deps.onRejectedMessage } : {}) });
    this.loader = new Loader({
      encode: (ev) => this.auth.seal(encodeEvent(ev)),
      marks: this.marks,
      epoch: this.epoch,
      cfg,
      now: this.now,
      logger: this.logger,
      source: deps.source,
      tier: this.tier,
      breaker: this.breaker,
      codec: new EntryCodec(new Sealer(deps.keyRing, this.logger), this.logger),
      l1: this.l1,
      waiters: this.waiters,
      lock: this.lock,
      instanceId: this.instanceId,
      closeScope: this.closer,
      onLocal: (t, e) => (e.type === 'written' ? this.written(t, e.entry) : this.evicted(t, e.reason, 'local')),
    });
    this.election = new RefreshElection({
      config: cfg,
      now: this.now,
      logger: this.logger,
      tier: this.tier,
      breaker: this.breaker,
      loader: this.loader,
      flights: this.flights,
      l1: this.l1,
      watched: this.watched,
      dueOf: (t, e) => this.dueOf(t, e),
    });
    this.refresher = new Refresher({
      enabled: cfg.refreshAheadRatio > 0,
      hotWindowMs: cfg.hotWindowMs,
      refreshRetryMs: cfg.refreshRetryMs,
      maxTracked: cfg.l1MaxEntries,
      now: this.now,
      logger: this.logger,
      refresh: (t) => this.election.refresh(t),
    });
    // Without events the store still works: followers poll L2 and L1 entries age out in l1TtlMs.
    this.subscribed = this.tier
      .subscribe({ message: (m) => this.onMessage(m), resync: () => this.onResync() }, { signal: this.closer.signal })
      .catch((err: unknown) => this.logger.error('cache: cannot listen to shared tier events', { error: err as Error }));
    // The epoch this replica starts under, so a later Redis restart is told apart from evictions.
    this.epoch.start();
  }

  /** Resolves once the store listens to the shared tier's events (followers poll until then). */
  ready(opts: { signal?: AbortSignal } = {}): Promise<void> {
    return abortable(this.subscribed, opts.signal);
  }

  async get(sel: SecretSelector, opts: GetOptions = {}): Promise<CacheResult> {
    return this.read(sel, this.rankOf(opts.maxStalenessMs, this.now()), opts.signal, opts.admitMiss);
  }

  /** The LOCAL_CACHE answer L1 gives at once, or undefined when `get` must be called (see SecretReader.getLocal). */
  getLocal(sel: SecretSelector, opts: { maxStalenessMs?: number } = {}): CacheResult | undefined {
    if (this.closed) return undefined;
    const now = this.now();
    const key = selectorKey(sel);
    const item = this.l1.get(key, now);
    if (item?.kind !== 'value') return undefined;
    this.refresher.touch(item.tag, now);
    return this.fromL1(item, now, this.rankOf(opts.maxStalenessMs, now));
  }

  /** The oldest checkedAtMs acceptable for a `maxStalenessMs` (-Infinity: any fresh entry). */
  private rankOf(maxStalenessMs: number | undefined, now: number): number {
    // The forced-refresh floor holds on every path that reaches the store, not only on GetSecret.
    const max = maxStalenessMs === undefined ? undefined : Math.max(maxStalenessMs, this.config.forcedRefreshMinIntervalMs);
    // 0 (or less) means "ask KMS now", like refresh(); otherwise anything checked within `max` ms.
    return max === undefined ? -Infinity : max <= 0 ? now + 1 : now - max;
  }

  /** L1's answer for a value item still LOCAL_CACHE and checked at or after `rank`; kicks refresh-ahead when due. */
  private fromL1(item: L1Item & { kind: 'value' }, now: number, rank: number): CacheResult | undefined {
    if (!(now < item.l1ExpiresAtMs && now < item.entry.freshUntilMs && item.entry.checkedAtMs >= rank)) return undefined;
    if (now >= item.entry.refreshAtMs) this.refresher.kick(item.tag);
    return answer(item.entry, 'LOCAL_CACHE');
  }

  /** Forces a source round trip for `sel` (shared with concurrent callers, cluster-wide). */
  refresh(sel: SecretSelector, opts: { signal?: AbortSignal } = {}): Promise<CacheResult> {
    return this.read(sel, this.now() + 1, opts.signal);
  }

  /** Answers with an entry checked at or after `rank` (epoch ms; -Infinity: any fresh entry). */
  private async read(sel: SecretSelector, rank: number, signal?: AbortSignal, admitMiss?: () => void): Promise<CacheResult> {
    this.assertOpen();
    signal?.throwIfAborted();
    const key = selectorKey(sel);
    const now = this.now();
    const item = this.l1.get(key, now);
    if (item) this.refresher.touch(item.tag, now);
    if (item?.kind === 'negative' && now < item.l1ExpiresAtMs && item.negative.checkedAtMs >= rank) throw notFound(sel);
    const local = item?.kind === 'value' ? this.fromL1(item, now, rank) : undefined;
    if (local) return local;
    const joining = this.flights.has(key);
    if (joining) this.coalesced++;
    else admitMiss?.();
    const t: Target = { sel, key, tag: item?.tag ?? this.namer.tag(key) };
    const fallback = this.staleFallback(item, t, rank, now);
    const flight = this.flights.do(key, rank, (fs, flightRank) => this.loader.load(t, flightRank, fs), {
      // With a fallback the refresh is not this caller's to cancel: it goes on after a STALE answer.
      signal: fallback ? undefined : signal,
      accept: (x) => x.source === 'STALE' || x.entry.checkedAtMs >= rank,
    });
    const r = fallback ? await abortable(this.staleIfSlow(flight, fallback, t), signal) : await flight;
    // Leader or follower, an answer honours the bound the caller set (the flight's leader skips
    // `accept`, so this is checked here for every answer).
    if (r.source !== 'STALE' && r.entry.checkedAtMs < rank - this.config.maxClockSkewMs) {
      throw new BackendUnavailableError(`no answer for "${sel.name}" checked recently enough for max_staleness`);
    }
    if (r.source === 'STALE') {
      if (r.entry.checkedAtMs < rank) throw r.cause;
      this.refresher.track(t, now + this.config.refreshRetryMs, now);
    } else {
      this.refresher.track(t, this.dueOf(t, r.entry), now);
    }
    return answer(r.entry, r.source);
  }

  /**
   * The value a read may answer STALE if its refresh is slow: L1's, expired but within max-stale,
   * recent enough for the caller's bound, and not a version this replica has seen superseded.
   */
  private staleFallback(item: L1Item | undefined, t: Target, rank: number, now: number): CacheEntry | undefined {
    if (this.config.staleIfSlowMs <= 0 || !this.config.serveStaleOnTransientError || item?.kind !== 'value') return undefined;
    const e = item.entry;
    if (now < e.freshUntilMs || now >= e.staleUntilMs || e.checkedAtMs < rank) return undefined;
    return this.loader.admits(t, e) ? e : undefined;
  }

  /**
   * The flight's result, or a stale answer when it has not settled within staleIfSlowMs. The stale
   * value is judged when the timer fires, as a failed source would judge it: while the shared tier
   * is reachable only what it holds may be answered (an entry it lacks or marks NotFound was evicted
   * by some replica), and only if this replica has not dropped or seen superseded the L1 copy since.
   */
  private staleIfSlow(flight: Promise<LoadResult>, fallback: CacheEntry, t: Target): Promise<LoadResult> {
    let timer: NodeJS.Timeout | undefined;
    const slow = new Promise<LoadResult>((resolve) => {
      timer = setTimeout(() => {
        void this.loader.staleFor(t, fallback).then((e) => {
          const held = this.l1.peek(t.key);
          if (!e || (e === fallback && (held?.kind !== 'value' || held.entry !== fallback))) return; // evicted meanwhile: wait for the refresh
          if (e.checkedAtMs < fallback.checkedAtMs) return; // older than what the caller's bound was judged on: wait
          if (!this.loader.admits(t, e)) return;
          this.slowAnswers++;
          resolve({ entry: e, source: 'STALE', cause: new BackendUnavailableError('the refresh is taking too long') });
        }, () => undefined);
      }, this.config.staleIfSlowMs);
    });
    flight.catch(() => undefined); // settles later, unobserved, when the stale answer won
    return Promise.race([flight, slow]).finally(() => clearTimeout(timer));
  }

  /**
   * The change feed: calls `listener` whenever an entry for `sel` is written or evicted, by this
   * replica or another, and with `resync` after the feed was interrupted. A remote "written" has
   * already superseded this replica's L1 entry when the listener runs, so a plain `get()` then
   * answers the new entry from the shared tier. Returns the unsubscribe function. Bounded by
   * cache.maxSubscriptions.
   */
  subscribe(sel: SecretSelector, listener: CacheUpdateListener): () => void {
    this.assertOpen();
    return this.subs.add(this.namer.tag(selectorKey(sel)), sel, listener);
  }

  /**
   * Keeps `sel` checked with KMS on `plan`'s cadence (as well as refresh-ahead: whichever is due
   * first) until the handle closes. The store's refresher is the key's one scheduler: each due time
   * reads the shared tier first (a check by any replica counts), then takes the refresh lease, so
   * replicas that schedule the same key still ask KMS about once per due time. Ref-counted per key.
   */
  schedule(sel: SecretSelector, plan: CheckPlan): { close(): void } {
    this.assertOpen();
    const key = selectorKey(sel);
    const t: Target = { sel, key, tag: this.namer.tag(key) };
    const remove = this.watched.add(t.tag, plan);
    const item = this.l1.peek(key);
    this.refresher.pin(t, this.dueOf(t, item?.kind === 'value' ? item.entry : undefined));
    return {
      close: () => {
        if (remove()) this.refresher.unpin(t.tag);
      },
    };
  }

  stats(): StoreStats {
    return {
      l1Size: this.l1.size,
      inFlight: this.flights.inFlight,
      waiters: this.flights.waiters,
      pendingFillWaiters: this.waiters.pending,
      heldLocks: this.lock.held,
      trackedRefreshes: this.refresher.size,
      refreshTimers: this.refresher.timers,
      subscriptions: this.subs.size,
      breaker: this.breaker.state,
      coalescedReads: this.coalesced,
      staleIfSlowAnswers: this.slowAnswers,
      squattedRefreshLeases: this.election.squatted,
    };
  }

  /** Whether this process holds a value it could answer now (from L1, stale allowed when configured), whatever Redis and KMS do. */
  holdsServable(): boolean {
    return this.l1.hasServable(this.now(), this.config.serveStaleOnTransientError);
  }

  /** Stops timers, ends waits and source calls, unsubscribes. Callers still waiting get BackendUnavailableError. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const reason = new BackendUnavailableError('secret cache closed');
    this.refresher.close();
    this.epoch.close();
    this.watched.clear();
    this.closer.close(reason);
    this.waiters.close();
    // Fills end quickly once aborted (a source that ignores its signal is waited for at most one lock lease).
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((r) => (timer = setTimeout(r, this.config.lockLeaseMs)));
    await Promise.race([this.flights.close(reason), bound]);
    clearTimeout(timer);
    await this.tier.close();
    this.subs.clear();
    this.l1.clear();
  }

  /** When `e` is next due: refresh-ahead, or the watch cadence when the key is scheduled and that is earlier. */
  private dueOf(t: Target, e: CacheEntry | undefined): number {
    return this.watched.dueOf(t.tag, e, this.now());
  }

  private written(t: Target, entry: CacheEntry): void {
    this.refresher.track(t, this.dueOf(t, entry));
    const update = { type: 'written' as const, versionId: entry.secret.versionId, checkedAtMs: entry.checkedAtMs, origin: 'local' as const };
    this.subs.emit(t.tag, update);
  }

  private evicted(t: Target, reason: EvictReason, origin: 'local' | 'remote'): void {
    this.refresher.untrack(t.tag);
    this.subs.emit(t.tag, { type: 'evicted', reason, origin });
  }

  private onMessage(message: string): void {
    if (this.closed) return;
    const body = this.auth.open(message);
    const ev = body === null ? null : decodeEvent(body, this.auth.horizonMs);
    if (!ev) return;
    this.waiters.notify(ev.tag);
    if (ev.origin === this.instanceId) return;
    if (ev.type === 'written') this.l1.supersede(ev.tag);
    else this.l1.deleteByTag(ev.tag);
    if (ev.type === 'written') this.marks.saw(ev.tag, ev.versionId, ev.checkedAtMs, ev.createTimeMs);
    else this.marks.evicted(ev.tag, this.now());
    if (ev.type === 'evicted') {
      this.refresher.untrack(ev.tag);
      this.subs.emit(ev.tag, { type: 'evicted', reason: ev.reason, origin: 'remote' });
    } else {
      this.subs.emit(ev.tag, { type: 'written', versionId: ev.versionId, checkedAtMs: ev.checkedAtMs, origin: 'remote' });
    }
  }

  /**
   * The feed came back after an outage: "written" messages may have been lost. Each subscribed
   * key's L1 entry is superseded (its subscribers' re-read looks at the shared tier; the value stays
   * the stale fallback) and its
   * subscribers are told to re-read; other keys age out of L1 in l1TtlMs as usual, so a reconnect
   * storm does not turn every hot read into a shared-tier read at once.
   */
  private onResync(): void {
    if (this.closed) return;
    for (const tag of this.subs.tags()) {
      this.l1.supersede(tag);
      this.subs.emit(tag, { type: 'resync' });
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new BackendUnavailableError('secret cache closed');
  }
}

function answer(entry: CacheEntry, source: FreshnessSource): CacheResult {
  return { secret: entry.secret, freshness: { source, checkedAtMs: entry.checkedAtMs }, memo: entry };
}
