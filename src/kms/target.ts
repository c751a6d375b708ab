import type OpenApiClient from '@alicloud/openapi-client';
import type { KmsTargetConfig } from '../config/types';
import { CircuitBreaker, type BreakerOptions } from '../breaker';

/** EWMA weight of the newest sample. */
const ALPHA = 0.3;

/** One KMS endpoint with its own client, breaker and latency estimate. */
export class KmsTarget {
  readonly breaker: CircuitBreaker;
  /** Smoothed latency of recent attempts, ms; failures count as their elapsed time plus a penalty. */
  ewmaMs = 0;
  /** Attempts observed; a target with none has no latency to compare yet. */
  samples = 0;

  constructor(
    readonly config: KmsTargetConfig,
    readonly client: OpenApiClient,
    breaker: BreakerOptions,
    /** Position in the configured list: the tie-breaker, so the operator's preference holds. */
    readonly index: number,
  ) {
    this.breaker = new CircuitBreaker(breaker);
  }

  get id(): string {
    return this.config.id;
  }

  observe(ms: number): void {
    this.ewmaMs = this.samples++ === 0 ? ms : ALPHA * ms + (1 - ALPHA) * this.ewmaMs;
  }
}

const STATE_RANK = { closed: 0, 'half-open': 1, open: 2 } as const;

/**
 * Orders targets by health: breaker state first, then latency in coarse buckets, then the
 * configured order. Buckets keep a few milliseconds of noise from flipping the preferred region;
 * a target only loses its place when it is clearly slower (twice the best, and 20 ms more).
 */
export function healthOrder(targets: KmsTarget[]): KmsTarget[] {
  // Unmeasured targets rank with the best, so the configured order holds until there is evidence
  // (otherwise the first call's TLS handshake would push the primary behind an untried region).
  const sampled = targets.filter((t) => t.samples > 0);
  const best = sampled.length ? Math.min(...sampled.map((t) => t.ewmaMs)) : 0;
  const bucket = (t: KmsTarget) => (t.samples > 0 && t.ewmaMs > 2 * best + 20 ? Math.ceil(Math.log2((t.ewmaMs + 1) / (best + 1))) : 0);
  return [...targets].sort(
    (a, b) => STATE_RANK[a.breaker.state] - STATE_RANK[b.breaker.state] || bucket(a) - bucket(b) || a.index - b.index,
  );
}
