/**
 * What the watch module and the gRPC handlers need from the cache, defined here by the consumer
 * (house style rule 3). `cache/`'s SecretStore satisfies it structurally; tests use a hand-written
 * fake. The reader throws the typed errors of `src/errors.ts`.
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
}
