/**
 * The cluster-wide KMS request budget: one token bucket per KMS target in Redis, updated by a Lua
 * script that reads the clock with Redis TIME (so replicas' clocks don't matter). Implements
 * `RequestBudget` (kms/budget.ts). While Redis is unavailable (breaker open or a call failing) it
 * falls back to an in-process `LocalTokenBucket`, whose rate should be this one divided by the
 * number of replicas.
 */
import { ThrottledError } from '../errors';
import { sleep } from '../abort';
import { LocalTokenBucket, type RequestBudget } from '../kms/budget';
import { Breaker } from './breaker';
import { DEFAULT_CACHE_CONFIG } from './config';
import { budgetKey } from './keys';
import type { RedisClient } from './redisClient';
import { runScript } from '../cluster/scripts';

/** KEYS: bucket. ARGV: qps, burst. Tokens left now (refilled to Redis TIME), as a string; writes nothing. */
export interface RedisBudgetOptions {
  /** Tokens per second for the whole cluster, per target. */
  qps: number;
  /** Bucket size. */
  burst: number;
  /** Longest wait when acquire() gets no signal. @default 1000 */
  maxWaitMs?: number;
  /** Key prefix: the cache's `keyPrefix`. */
  keyPrefix: string;
  /** Used while Redis is unavailable. @default LocalTokenBucket({qps, burst, maxWaitMs}) */
  fallback?: RequestBudget;
  /** @default a breaker with the cache's default thresholds (`breakerFailureThreshold`, `breakerOpenMs`) */
  breaker?: Breaker;
}

export class RedisTokenBucket implements RequestBudget {
  private readonly fallback: RequestBudget;
  private readonly breaker: Breaker;

  constructor(
    private readonly client: RedisClient,
    private readonly opts: RedisBudgetOptions,
  ) {
    if (!(opts.qps > 0) || !(opts.burst >= 1)) throw new RangeError('RedisTokenBucket: qps must be > 0 and burst >= 1');
    this.fallback = opts.fallback ?? new LocalTokenBucket({ qps: opts.qps, burst: opts.burst, maxWaitMs: opts.maxWaitMs });
    this.breaker = opts.breaker ?? new Breaker({ failureThreshold: DEFAULT_CACHE_CONFIG.breakerFailureThreshold, openMs: DEFAULT_CACHE_CONFIG.breakerOpenMs });
  }

  /** One attempt: 0 when a token was taken, else ms until one will be. Throws when Redis is unavailable. */
  tryTake(targetId: string): Promise<number> {
    const key = budgetKey(this.opts.keyPrefix, targetId);
    return this.breaker.run(() => runScript(this.client, 'sgTakeToken', [key], [this.opts.qps, this.opts.burst]));
  }

  /** Tokens left in the cluster bucket (the fallback's while Redis is unavailable). */
  async tokensLeft(targetId: string): Promise<number | undefined> {
    const key = budgetKey(this.opts.keyPrefix, targetId);
    try {
      return await this.breaker.run(() => runScript(this.client, 'sgPeekTokens', [key], [this.opts.qps, this.opts.burst]));
    } catch {
      return this.fallback.tokensLeft?.(targetId);
    }
  }

  async acquire(targetId: string, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + (this.opts.maxWaitMs ?? 1000);
    for (;;) {
      let waitMs: number;
      try {
        waitMs = await this.tryTake(targetId);
      } catch {
        return this.fallback.acquire(targetId, signal);
      }
      if (!(waitMs > 0)) return;
      // One token is never more than 1/qps away in a bucket the gateway wrote: a longer answer
      // is a tampered bucket (which the script resets), so it is clamped rather than slept.
      waitMs = Math.min(waitMs, Math.ceil(1000 / this.opts.qps) + 1);
      if (signal?.aborted || (!signal && Date.now() + waitMs > deadline)) {
        throw new ThrottledError(`KMS request budget exhausted for ${targetId}`);
      }
      await sleep(waitMs, signal).catch(() => {
        throw new ThrottledError(`KMS request budget exhausted for ${targetId}`);
      });
    }
  }
}
