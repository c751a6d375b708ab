/**
 * The watch hub: one per replica. It keeps one KeyState per watched key (shared by every local
 * stream on it), runs the rotation detector, and turns the cache's change feed into updates in
 * each stream's coalescing slot. It knows nothing about gRPC or callers: streams come and go through
 * `subscribe()` / `close()`.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { AccessDeniedError, BackendUnavailableError, ConfigError, SecretNotFoundError } from '../errors';
import { selectorKey, type SecretSelector } from '../model';
import { silentLogger, type Logger } from '../telemetry/logger';
import type { WatchBus } from './bus';
import { RotationDetector } from './detector';
import { KeyState } from './keyState';
import type { FreshnessInfo, KeyUpdate, ReadResult, SecretFeed } from './reader';
import { CoalescingSubscriber } from './subscriber';
import { KeySubscription } from './subscription';
import { timeoutSignal } from '../abort';
import { defaultOf, rangeOf } from '../config/settings';

type EvictReason = Extract<KeyUpdate, { type: 'evicted' }>['reason'];

export interface WatchHubOptions {
  /** The cache, as the watch module sees it: reads, its change feed and its scheduler. */
  reader: SecretFeed;
  /** Poll leases and interest: Redis (`createRedisWatchBus`) or in-memory (`createMemoryBus`). The hub closes it. */
  bus: WatchBus;
  /** How often the cluster checks each watched secret with KMS (before jitter). @default setting SECRETS_GATEWAY_WATCH_POLL_INTERVAL_MS (serve) */
  pollIntervalMs?: number;
  /** 0–0.5: up to this fraction of each interval is cut at random. @default 0.1 */
  jitter?: number;
  /** Poll this long after a secret's NextRotationDate (and every this long while it is overdue). @default 5000 */
  rotationDelayMs?: number;
  /** Poll lease per key; a crashed poller is replaced within about 1.3 × this. @default 15000 */
  leaseMs?: number;
  /** Upper bound on each read the hub makes (initial load, catch-up, confirming an eviction). @default 30000 */
  readTimeoutMs?: number;
  /** This replica's id in the interest registry; must differ between replicas. @default `<hostname>-<random>` */
  replicaId?: string;
  logger?: Logger;
  /** Random source for jitter (tests). @default Math.random */
  random?: () => number;
}

/** One stream's view of a watched key. */
export interface WatchSubscription {
  /** The current version: the replica's known one at once, or one load shared with other streams. */
  initial(signal: AbortSignal): Promise<ReadResult>;
  /**
   * The newest version not yet taken, waiting up to `timeoutMs`; undefined when nothing new came
   * (a heartbeat is due). Throws SecretNotFoundError / AccessDeniedError when the secret is gone,
   * or the signal's reason when it aborts.
   */
  next(signal: AbortSignal, timeoutMs: number): Promise<ReadResult | undefined>;
  /** For heartbeats: the current value's source and the newest KMS confirmation time. */
  freshness(): FreshnessInfo | undefined;
  /** Unsubscribes; the last local stream of a key stops this replica's interest in it. Idempotent. */
  close(): void;
}

export interface WatchHubStats {
  /** Keys with local streams. */
  keys: number;
  /** Local streams (subscriptions). */
  subscribers: number;
  /** Keys this replica's cache schedules on the watch cadence: for the cluster (it holds the lease) or, bus down, for itself. */
  pollingKeys: number;
  /** Of those, keys polled locally because the bus (Redis) is unavailable. */
  degradedKeys: number;
  /** KMS checks of watched keys this replica's cache made on the watch schedule. */
  polls: number;
  /** Times a watched key was found unpolled past 3 intervals (a squatted or stuck lease) and scheduled here. */
  unpolled: number;
  /** Rotations this replica's polls detected. */
  rotationsDetected: number;
}

export interface WatchHub {
  subscribe(sel: SecretSelector): WatchSubscription;
  stats(): WatchHubStats;
  /** Ends remaining subscriptions (UNAVAILABLE), stops polling, releases leases, closes the bus. */
  close(): Promise<void>;
}

export function createWatchHub(opts: WatchHubOptions): WatchHub {
  const o = resolveOptions(opts);
  const log = (opts.logger ?? silentLogger).child({ component: 'watch', replicaId: o.replicaId });
  const keys = new Map<string, { state: KeyState; unsubscribe: () => void }>();
  const closing = new AbortController();
  let rotationsDetected = 0;
  const goneError = (reason: EvictReason, name: string) =>
    reason === 'notFound' ? new SecretNotFoundError(`secret ${name} no longer exists`) : new AccessDeniedError(`access to secret ${name} was revoked`);

  const endKey = (tag: string, err: Error) => {
    const key = keys.get(tag);
    if (!key) return;
    keys.delete(tag);
    detector.untrack(tag);
    key.unsubscribe();
    key.state.end(err);
  };
  const detector = new RotationDetector({
    bus: opts.bus,
    feed: opts.reader,
    cadence: { intervalMs: o.pollIntervalMs, jitter: o.jitter, rotationDelayMs: o.rotationDelayMs },
    leaseMs: o.leaseMs,
    replicaId: o.replicaId,
    log,
    random: o.random,
  });

  /**
   * Another replica evicted the key (NotFound / AccessDenied). Ending streams is destructive, so
   * this replica first confirms it with KMS through the cache's single-flight (and its
   * forced-refresh floor): a message that is authentic but replayed, or stale, cannot end streams
   * for a secret that exists. A confirmed eviction comes back on the feed as a local one.
   */
  const confirming = new Set<string>();
  const confirmGone = (tag: string) => {
    const key = keys.get(tag);
    if (!key || confirming.has(tag)) return;
    confirming.add(tag);
    const t = timeoutSignal(o.readTimeoutMs, closing.signal);
    opts.reader
      .get(key.state.sel, { signal: t.signal, maxStalenessMs: 0 })
      .then(
        () => log.warn('a replica reported a watched secret gone, but KMS still serves it; streams stay open', { secretName: key.state.sel.name }),
        () => undefined,
      )
      .finally(() => {
        t.clear();
        confirming.delete(tag);
      });
  };

  /** A stream's subscription closed: the last local stream of a key stops this replica's interest in it. */
  const release = (tag: string, state: KeyState, sub: CoalescingSubscriber) => {
    state.subscribers.delete(sub);
    const key = keys.get(tag);
    if (state.subscribers.size === 0 && key?.state === state) {
      keys.delete(tag);
      key.unsubscribe();
      detector.untrack(tag);
    }
  };

  /** One update of the cache's change feed for a watched key. */
  const onUpdate = (tag: string, u: KeyUpdate) => {
    const key = keys.get(tag);
    if (closing.signal.aborted || !key) return;
    if (u.type === 'resync') return key.state.resync();
    if (u.type === 'evicted') {
      if (u.origin === 'remote') return confirmGone(tag);
      log.info('watched secret is gone; ending its watches', { secretName: key.state.sel.name, reason: u.reason });
      return endKey(tag, goneError(u.reason, key.state.sel.name));
    }
    // This replica's own KMS read found another version than its streams hold: a rotation detected here.
    if (u.origin === 'local' && key.state.currentVersionId !== undefined && key.state.currentVersionId !== u.versionId) rotationsDetected++;
    detector.noteChecked(tag);
    key.state.onWritten({ versionId: u.versionId, checkedAtMs: u.checkedAtMs });
  };

  return {
    subscribe(sel) {
      const tag = opts.bus.tagOf(selectorKey(sel));
      let key = keys.get(tag);
      if (!key && !closing.signal.aborted) {
        const state = new KeyState(sel, { reader: opts.reader, log, closed: closing.signal, readTimeoutMs: o.readTimeoutMs });
        key = { state, unsubscribe: opts.reader.subscribe(sel, (u) => onUpdate(tag, u)) };
        keys.set(tag, key);
        detector.track(tag, sel);
      }
      const sub = new CoalescingSubscriber();
      if (key) key.state.subscribers.add(sub);
      else sub.end(new BackendUnavailableError('watch hub closed'));
      return new KeySubscription(sub, key?.state, tag, release);
    },
    stats: () => {
      let subscribers = 0;
      for (const k of keys.values()) subscribers += k.state.subscribers.size;
      const d = detector.stats();
      return { keys: keys.size, subscribers, pollingKeys: d.polling, degradedKeys: d.degraded, polls: d.polls, unpolled: d.unpolled, rotationsDetected };
    },
    close: async () => {
      if (closing.signal.aborted) return;
      closing.abort();
      for (const tag of [...keys.keys()]) endKey(tag, new BackendUnavailableError('watch hub closed'));
      await detector.close();
      await opts.bus.close();
    },
  };
}

type Resolved = Required<Pick<WatchHubOptions, 'pollIntervalMs' | 'jitter' | 'rotationDelayMs' | 'leaseMs' | 'readTimeoutMs' | 'replicaId' | 'random'>>;

function resolveOptions(opts: WatchHubOptions): Resolved {
  const o: Resolved = {
    pollIntervalMs: opts.pollIntervalMs ?? defaultOf('SECRETS_GATEWAY_WATCH_POLL_INTERVAL_MS'),
    jitter: opts.jitter ?? 0.1,
    rotationDelayMs: opts.rotationDelayMs ?? 5_000,
    leaseMs: opts.leaseMs ?? 15_000,
    readTimeoutMs: opts.readTimeoutMs ?? 30_000,
    replicaId: opts.replicaId ?? `${hostname()}-${randomBytes(4).toString('hex')}`,
    random: opts.random ?? Math.random,
  };
  // The setting's upper bound; below, the hub goes further than the setting (tests poll every few ms).
  const ranges: [keyof Resolved, number, number][] = [
    ['pollIntervalMs', 10, rangeOf('SECRETS_GATEWAY_WATCH_POLL_INTERVAL_MS')[1]],
    ['jitter', 0, 0.5],
    ['rotationDelayMs', 0, 3_600_000],
    ['leaseMs', 30, 600_000],
    ['readTimeoutMs', 10, 600_000],
  ];
  for (const [name, min, max] of ranges) {
    const v = o[name];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new ConfigError(`watch.${name}`, `must be a number ${min}–${max}`);
  }
  if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(o.replicaId)) throw new ConfigError('watch.replicaId', 'must be 1–128 characters of A-Z a-z 0-9 _ . : -');
  return o;
}
