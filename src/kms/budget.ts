/**
 * The KMS request budget: every KMS call passes through one before it is sent, so the gateway
 * never exceeds the QPS it is allowed (Alibaba's shared-gateway quota is per account and region,
 * shared by every replica). This file holds the interface and the in-process token bucket; the
 * cluster-wide Redis bucket lives in cache/ and falls back to this one when Redis is down.
 */
import { sleep } from '../abort';
import { ThrottledError } from '../errors';

export interface RequestBudget {
  /**
   * Takes one token for `targetId`, waiting for it while `signal` allows. Throws ThrottledError
   * when no token can be had before the signal aborts (or at once when `signal` is absent and the
   * bucket is empty for longer than `maxWaitMs`).
   */
  acquire(targetId: string, signal?: AbortSignal): Promise<void>;
  /** Tokens left for `targetId` now, without taking one (metrics); undefined when unknown. */
  tokensLeft?(targetId: string): Promise<number | undefined> | number | undefined;
}

export interface TokenBucketOptions {
  /** Tokens added per second. */
  qps: number;
  /** Bucket size. */
  burst: number;
  /** Longest wait without a signal. @default 1000 */
  maxWaitMs?: number;
  now?: () => number;
}

/** A token bucket per target, in this process only. Waiters are bounded by their signal. */
export class LocalTokenBucket implements RequestBudget {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly now: () => number;

  constructor(private readonly opts: TokenBucketOptions) {
    this.now = opts.now ?? Date.now;
  }

  tokensLeft(targetId: string): number {
    const b = this.buckets.get(targetId);
    return b ? Math.min(this.opts.burst, b.tokens + ((this.now() - b.at) * this.opts.qps) / 1000) : this.opts.burst;
  }

  /** Takes a token if one is available now; otherwise returns how many ms until one will be. */
  tryTake(targetId: string): number {
    const now = this.now();
    const b = this.buckets.get(targetId) ?? { tokens: this.opts.burst, at: now };
    b.tokens = Math.min(this.opts.burst, b.tokens + ((now - b.at) * this.opts.qps) / 1000);
    b.at = now;
    this.buckets.set(targetId, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) * 1000) / this.opts.qps);
  }

  async acquire(targetId: string, signal?: AbortSignal): Promise<void> {
    const deadline = this.now() + (this.opts.maxWaitMs ?? 1000);
    for (;;) {
      const waitMs = this.tryTake(targetId);
      if (waitMs === 0) return;
      if (signal?.aborted || (!signal && this.now() + waitMs > deadline)) {
        throw new ThrottledError(`KMS request budget exhausted for ${targetId}`);
      }
      await sleep(waitMs, signal).catch(() => {
        throw new ThrottledError(`KMS request budget exhausted for ${targetId}`);
      });
    }
  }
}
