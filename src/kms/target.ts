import type { KmsTargetConfig } from '../config/types';
import { CircuitBreaker, type BreakerOptions } from '../breaker';
import type { SecretValueClient } from './api';
import { OutlierEjection, type EjectionOptions } from './ejection';

/** EWMA weight of the newest sample. */
const ALPHA = 0.3;

/**
 * One KMS endpoint with its own client, breaker (bad answers), outlier ejection (unreachable),
 * throttle cool-down (429 / busy) and latency estimate.
 */
export class KmsTarget {
  readonly breaker: CircuitBreaker;
  readonly ejection: OutlierEjection;
  /** Until when (epoch ms) the target is cooling down after a throttled or busy answer; shared by every call. */
  coolUntil = 0;
  /** Smoothed latency of recent attempts, ms; failures count as their elapsed time plus a penalty. */
  ewmaMs = 0;
  /** Attempts observed; a target with none has no latency to compare yet. */
  samples = 0;
  /** When the last attempt was observed (epoch ms). */
  lastSampleAt = 0;
  private readonly now: () => number;
  /**
   * How long a latency estimate counts: older evidence is forgotten, so a target demoted for
   * failing (a primary that was down) is tried again once per breaker open period instead of
   * staying behind a healthy fallback for good.
   */
  readonly forgetAfterMs: number;

  constructor(
    readonly config: KmsTargetConfig,
    readonly client: SecretValueClient,
    breaker: BreakerOptions,
    /** Position in the configured list: the tie-breaker, so the operator's preference holds. */
    readonly index: number,
    ejection: EjectionOptions = { baseMs: 1000, maxMs: 30_000 },
  ) {
    this.breaker = new CircuitBreaker(breaker);
    this.ejection = new OutlierEjection({ now: breaker.now, ...ejection });
    this.now = breaker.now ?? Date.now;
    this.forgetAfterMs = breaker.openMs;
  }

  get id(): string {
    return this.config.id;
  }

  /** Whether the estimate holds evidence recent enough to rank by. */
  get measured(): boolean {
    return this.samples > 0 && this.now() - this.lastSampleAt < this.forgetAfterMs;
  }

  /**
   * Epoch ms from which this target may take a request (≤ now: it may now), or `null` while a
   * probe (breaker half-open or ejection) by another call is out.
   */
  readyAt(): number | null {
    const e = this.ejection.readyAt();
    const b = this.breaker.readyAt();
    return e === null || b === null ? null : Math.max(e, b, this.coolUntil);
  }

  /** Takes the slots a request needs now (ejection probe, breaker probe), or none of them. */
  tryAcquire(): boolean {
    if (this.now() < this.coolUntil || !this.ejection.tryAcquire()) return false;
    if (this.breaker.tryAcquire()) return true;
    this.ejection.release();
    return false;
  }

  /** Gives back what `tryAcquire` took, without a verdict (an abandoned attempt). */
  release(): void {
    this.ejection.release();
    this.breaker.release();
  }

  /** `breaker`, or `ejected` / `probing` while outlier ejection holds the target out. */
  get state(): string {
    const e = this.ejection.state;
    return e === 'in' ? this.breaker.state : e;
  }

  observe(ms: number): void {
    if (!this.measured) this.samples = 0;
    this.ewmaMs = this.samples++ === 0 ? ms : ALPHA * ms + (1 - ALPHA) * this.ewmaMs;
    this.lastSampleAt = this.now();
  }
}

/** Closed, or half-open with its probe slot free, ranks first: a half-open breaker exists to let that probe through. */
const rank = (t: KmsTarget): number => (t.breaker.state === 'closed' || t.breaker.wouldAllow ? 0 : t.breaker.state === 'half-open' ? 1 : 2);

/**
 * Orders targets by health: breaker state first, then latency in coarse buckets, then the
 * configured order. Buckets keep a few milliseconds of noise from flipping the preferred region;
 * a target only loses its place when it is clearly slower (twice the best, and 20 ms more).
 */
export function healthOrder(targets: KmsTarget[]): KmsTarget[] {
  // Unmeasured targets (never tried, or not for a while) rank with the best, so the configured
  // order holds until there is evidence (otherwise the first call's TLS handshake would push the
  // primary behind an untried region, and a primary that was down would never get its place back).
  const sampled = targets.filter((t) => t.measured);
  const best = sampled.length ? Math.min(...sampled.map((t) => t.ewmaMs)) : 0;
  const bucket = (t: KmsTarget) => (t.measured && t.ewmaMs > 2 * best + 20 ? Math.ceil(Math.log2((t.ewmaMs + 1) / (best + 1))) : 0);
  return [...targets].sort((a, b) => rank(a) - rank(b) || bucket(a) - bucket(b) || a.index - b.index);
}
