/**
 * A hand-written fake of the cache as the watch module sees it (`SecretFeed`: reads + change feed).
 *
 * It models one cluster-shared tier over a programmable "KMS":
 *   - `set()` / `rotate()` change what KMS holds; readers see it only after a KMS round trip;
 *   - `maxStalenessMs: 0` always goes to KMS; other reads answer from the shared tier when it is
 *     fresh enough (source SHARED_CACHE) and go to KMS on a miss;
 *   - `kmsError` makes every KMS round trip fail (a KMS outage: the shared tier still answers);
 *   - `remove(name, err)` makes every read of that secret throw `err` (deleted / revoked, fail closed);
 *   - `hang` makes reads wait for their signal (deadline and cancel tests);
 *   - `partitioned` stands for a Redis outage: updates reach only the replica that caused them.
 * Like the real cache, every KMS round trip publishes "written" on the feed, and a read that KMS
 * answers NotFound / denied (after `remove()`) publishes "evicted".
 * `withL1()` adds a per-replica view with its own in-process tier in front, which (like the real
 * store) drops its entry when the feed reports a write. Updates are 'local' to the view that made
 * the call and 'remote' to the others. Every call is recorded.
 * `schedule()` models the cache's scheduler: one timer per scheduled key, due at the plan's next
 * check after the shared tier's newest confirmation (any view's check counts), where it makes a
 * `maxStalenessMs: 0` read through its view.
 */
import { SecretNotFoundError } from '../../src/errors';
import { ACS_CURRENT, type SecretSelector, type SecretVersion } from '../../src/model';
import { AccessDeniedError } from '../../src/errors';
import type { CheckPlan, KeyUpdate, ReadOptions, ReadResult, SecretFeed } from '../../src/watch/reader';

export interface ReaderCall {
  name: string;
  stage?: string;
  versionId?: string;
  maxStalenessMs?: number;
  signal?: AbortSignal;
  /** When the call was made (epoch ms). */
  atMs: number;
}

const keyOf = (sel: SecretSelector) => `${sel.regionId ?? ''}|${sel.name}|${sel.versionId ?? sel.versionStage ?? ACS_CURRENT}`;

export function version(name: string, versionId: string, extra: Partial<SecretVersion> = {}): SecretVersion {
  return {
    name,
    versionId,
    versionStages: [ACS_CURRENT],
    value: { kind: 'string', text: `value-of-${versionId}` },
    secretType: 'Generic',
    automaticRotation: false,
    regionId: 'cn-hangzhou',
    createTimeMs: 1_700_000_000_000,
    ...extra,
  };
}

/** One replica's view: its feed listeners and (withL1) its in-process tier. */
class View {
  readonly listeners = new Map<string, Set<(u: KeyUpdate) => void>>();
  readonly l1 = new Map<string, { r: ReadResult; atMs: number }>();

  subscribe(sel: SecretSelector, listener: (u: KeyUpdate) => void): () => void {
    const key = keyOf(sel);
    const set = this.listeners.get(key) ?? new Set();
    this.listeners.set(key, set);
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(key) === set) this.listeners.delete(key);
    };
  }
}

export class FakeReader implements SecretFeed {
  readonly calls: ReaderCall[] = [];
  kmsError: Error | undefined;
  hang = false;
  /** The cluster channel is down (Redis outage): updates reach only the view that caused them. */
  partitioned = false;
  private readonly kms = new Map<string, SecretVersion | Error>();
  private readonly shared = new Map<string, { secret: SecretVersion; checkedAtMs: number }>();
  private readonly root = new View();
  private readonly views = new Set<View>([this.root]);

  /** Feed listeners registered on this reader and its views (tests check they are released). */
  get feedListeners(): number {
    let n = 0;
    for (const v of this.views) for (const s of v.listeners.values()) n += s.size;
    return n;
  }

  subscribe(sel: SecretSelector, listener: (u: KeyUpdate) => void): () => void {
    return this.root.subscribe(sel, listener);
  }

  /** What KMS holds for `name` (stage ACSCurrent unless given). */
  set(secret: SecretVersion, stage = ACS_CURRENT): void {
    this.kms.set(keyOf({ name: secret.name, versionStage: stage }), secret);
  }

  /** KMS rotates `name`: a new version with a default value. */
  rotate(name: string, versionId: string, extra: Partial<SecretVersion> = {}): void {
    this.set(version(name, versionId, extra));
  }

  /** Every read of `name` now throws `err` (SecretNotFoundError, AccessDeniedError, …). */
  remove(name: string, err: Error, stage = ACS_CURRENT): void {
    this.kms.set(keyOf({ name, versionStage: stage }), err);
    this.shared.delete(keyOf({ name, versionStage: stage }));
  }

  /** Reads that forced a KMS round trip (`maxStalenessMs: 0`), for `name` when given. */
  forceCalls(name?: string): number {
    return this.forceCallList(name).length;
  }

  forceCallList(name?: string): ReaderCall[] {
    return this.calls.filter((c) => c.maxStalenessMs === 0 && (name === undefined || c.name === name));
  }

  get(sel: SecretSelector, opts: ReadOptions): Promise<ReadResult> {
    return this.read(sel, opts, this.root);
  }

  schedule(sel: SecretSelector, plan: CheckPlan): { close(): void } {
    return this.scheduleWith((o) => this.get(sel, o), sel, plan);
  }

  /** Scheduled keys with a timer armed (tests check they are released). */
  scheduled = 0;

  private scheduleWith(read: (o: ReadOptions) => Promise<ReadResult>, sel: SecretSelector, plan: CheckPlan): { close(): void } {
    const key = keyOf(sel);
    let timer: NodeJS.Timeout | undefined;
    let closed = false;
    /** The newest confirmation the timer knows of, and when it counts from (a failed check: its time). */
    let seenMs = -Infinity;
    const arm = (fromMs?: number) => {
      const hit = this.shared.get(key);
      if (hit) seenMs = hit.checkedAtMs;
      const basisMs = fromMs ?? hit?.checkedAtMs ?? Date.now();
      const dueMs = plan.nextCheckAtMs(basisMs, hit?.secret.nextRotationTimeMs);
      timer = setTimeout(() => void fire(), Math.max(0, dueMs - Date.now()));
    };
    const fire = async () => {
      if (closed) return;
      const hit = this.shared.get(key);
      if (hit && hit.checkedAtMs > seenMs) return arm(); // checked since: go on from that check
      let failedAtMs: number | undefined;
      try {
        await read({ maxStalenessMs: 0 });
        plan.onCheck?.();
      } catch (err) {
        failedAtMs = Date.now();
        plan.onCheck?.(err);
      }
      if (!closed) arm(failedAtMs);
    };
    arm();
    return {
      close: () => {
        if (closed) return;
        closed = true;
        this.scheduled--;
        clearTimeout(timer);
      },
    };
  }

  private async read(sel: SecretSelector, opts: ReadOptions, from: View): Promise<ReadResult> {
    this.calls.push({ name: sel.name, stage: sel.versionStage, versionId: sel.versionId, maxStalenessMs: opts.maxStalenessMs, signal: opts.signal, atMs: Date.now() });
    if (this.hang) await waitForAbort(opts.signal);
    opts.signal?.throwIfAborted();
    const key = keyOf(sel);
    const truth = this.kms.get(key);
    if (truth instanceof Error) {
      this.publish(key, from, { type: 'evicted', reason: truth instanceof AccessDeniedError ? 'accessDenied' : 'notFound' });
      throw truth;
    }
    const hit = this.shared.get(key);
    const now = Date.now();
    if (hit && opts.maxStalenessMs !== 0 && (opts.maxStalenessMs === undefined || now - hit.checkedAtMs <= opts.maxStalenessMs)) {
      return { secret: hit.secret, freshness: { source: 'SHARED_CACHE', checkedAtMs: hit.checkedAtMs } };
    }
    if (this.kmsError) throw this.kmsError;
    if (!truth) throw new SecretNotFoundError(`secret ${sel.name} not found`);
    this.shared.set(key, { secret: truth, checkedAtMs: now });
    this.publish(key, from, { type: 'written', versionId: truth.versionId, checkedAtMs: now });
    return { secret: truth, freshness: { source: 'KMS', checkedAtMs: now } };
  }

  /** Every view drops its L1 entry, then hears the update ('local' for the view that caused it). */
  private publish(key: string, from: View, u: DistributiveOmit<Exclude<KeyUpdate, { type: 'resync' }>, 'origin'>): void {
    const reached = this.partitioned ? [from] : [...this.views];
    for (const v of reached) v.l1.delete(key);
    for (const v of reached) {
      const update = { ...u, origin: v === from ? 'local' : 'remote' } as KeyUpdate;
      queueMicrotask(() => {
        for (const l of [...(v.listeners.get(key) ?? [])]) l(update);
      });
    }
  }

  /** Tells every listener of every view to re-read (a feed reconnect). */
  resync(): void {
    for (const v of this.views) for (const set of v.listeners.values()) for (const l of [...set]) l({ type: 'resync' });
  }

  /** A replica's view with its own in-process tier (entries live `ttlMs`) in front of this one. */
  withL1(ttlMs: number): SecretFeed {
    const view = new View();
    this.views.add(view);
    const feed: SecretFeed = {
      subscribe: (sel, listener) => view.subscribe(sel, listener),
      schedule: (sel, plan) => this.scheduleWith((o) => feed.get(sel, o), sel, plan),
      get: async (sel, opts) => {
        const hit = view.l1.get(keyOf(sel));
        const now = Date.now();
        const bound = opts.maxStalenessMs ?? Infinity;
        if (hit && opts.maxStalenessMs !== 0 && now - hit.atMs <= ttlMs && now - hit.r.freshness.checkedAtMs <= bound) {
          this.calls.push({ name: sel.name, stage: sel.versionStage, maxStalenessMs: opts.maxStalenessMs, signal: opts.signal, atMs: now });
          return { secret: hit.r.secret, freshness: { source: 'LOCAL_CACHE', checkedAtMs: hit.r.freshness.checkedAtMs } };
        }
        const r = await this.read(sel, opts, view);
        view.l1.set(keyOf(sel), { r, atMs: now });
        return r;
      },
    };
    return feed;
  }
}

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

function waitForAbort(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((_, reject) => {
    if (!signal) return; // hangs forever: a reader without a signal is the bug under test
    if (signal.aborted) return reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}
