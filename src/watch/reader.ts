/**
 * What the watch module and the gRPC handlers need from the cache, defined here by the consumer
 * (house style rule 3): reads (`SecretReader`, all GetSecret needs) and the cache's change feed
 * and its scheduler (`SecretFeed`, what the watch hub needs on top). `cache/`'s SecretStore satisfies both
 * structurally; tests use a hand-written fake. The reader throws the typed errors of `src/errors.ts`.
 */
import type { SecretSelector, SecretVersion } from '../model';

/** Where an answer came from. Mirrors `Freshness.Source` of the proto without importing it. */
export type FreshnessSource = 'LOCAL_CACHE' | 'SHARED_CACHE' | 'KMS' | 'STALE';

/** Where an answer came from and when the gateway last confirmed it with KMS (epoch ms). */
export interface FreshnessInfo {
  source: FreshnessSource;
  checkedAtMs: number;
}

/** One answer of the reader. */
export interface ReadResult {
  secret: SecretVersion;
  freshness: FreshnessInfo;
  /**
   * The same object for every answer from one cached entry (and for no other entry), living as
   * long as the entry: a consumer may key data derived from `secret` by it (a WeakMap), which then
   * lives and dies with the entry. Unset: the reader caches nothing the consumer may key by.
   */
  memo?: object;
}

export interface ReadOptions {
  /** Aborts the read (and the KMS call behind it). */
  signal?: AbortSignal;
  /**
   * The oldest answer accepted, in ms since the value was last confirmed with KMS. `0` forces a
   * KMS round trip (the cache then writes the new value to the shared tier). Unset: cache policy.
   */
  maxStalenessMs?: number;
  /** Asked before a read that misses the in-process cache starts a fill; may throw to refuse it. */
  admitMiss?: () => void;
}

export interface SecretReader {
  get(sel: SecretSelector, opts: ReadOptions): Promise<ReadResult>;
  /**
   * The answer the in-process cache gives at once (LOCAL_CACHE), or undefined when the read has to
   * wait (a miss, a negative entry, an expired or too-stale entry): then call `get`. The hot path,
   * with no signal and no promise; it never starts a fill, so `admitMiss` does not apply.
   */
  getLocal?(sel: SecretSelector, opts: Pick<ReadOptions, 'maxStalenessMs'>): ReadResult | undefined;
}

/**
 * One change of a key, as the cache's feed reports it ('local': this replica did it; 'remote':
 * another replica, over the cluster channel).
 */
export type KeyUpdate =
  /** `versionId` was confirmed with KMS at `checkedAtMs` and written; a plain read now returns it. */
  | { type: 'written'; versionId: string; checkedAtMs: number; origin: 'local' | 'remote' }
  /** The entry was dropped because KMS said NotFound / AccessDenied (remote: not yet confirmed here). */
  | { type: 'evicted'; reason: 'notFound' | 'accessDenied'; origin: 'local' | 'remote' }
  /** The feed was interrupted: updates may have been lost, re-read. */
  | { type: 'resync' };

/** The watch cadence of one key, as the cache's scheduler asks for it. */
export interface CheckPlan {
  /** The next check after a confirmation at `checkedAtMs` (epoch ms), given the secret's NextRotationDate. */
  nextCheckAtMs(checkedAtMs: number, nextRotationTimeMs: number | undefined): number;
  /** Each KMS check the scheduler of this replica made for the key: no argument on success. */
  onCheck?(err?: unknown): void;
}

export interface SecretFeed extends SecretReader {
  /** Calls `listener` with every update of `sel`'s entry; returns the (idempotent) unsubscribe. */
  subscribe(sel: SecretSelector, listener: (u: KeyUpdate) => void): () => void;
  /**
   * Has the cache check `sel` with KMS on `plan`'s cadence until the handle closes: the cache's
   * scheduler is then the only one that decides when KMS is asked for the key (its refresh-ahead
   * or the plan, whichever is due first; a check by any replica counts). Ref-counted per key.
   */
  schedule(sel: SecretSelector, plan: CheckPlan): { close(): void };
}
