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
import { budgetKey } from './keys';
import type { RedisClient } from './redisClient';
import { LuaScript } from './redisTier';

/** KEYS: bucket. ARGV: qps, burst. Returns 0 when a token was taken, else ms until one will be. */
const TAKE = new LuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local qps = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1])
local at = tonumber(b[2])
if tokens == nil or at == nil then tokens = burst; at = now end
if now > at then tokens = math.min(burst, tokens + (now - at) * qps / 1000); at = now end
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) * 1000 / qps) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(at))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / qps) + 1000)
return wait`);

/** KEYS: bucket. ARGV: qps, burst. Tokens left now (refilled to Redis TIME), as a string; writes nothing. */
const PEEK = new LuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local qps = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1])
local at = tonumber(b[2])
if tokens == nil or at == nil then return tostring(burst) end
if now > at then tokens = math.min(burst, tokens + (now - at) * qps / 1000) end
return tostring(tokens)`);

export interface RedisBudgetOptions {
  /** Tokens per second for the whole cluster, per target. */
  qps: number;
  /** Bucket size. */
  burst: number;
  /** Longest wait when acquire() gets no signal. @default 1000 */
  maxWaitMs?: number;
  /** Key prefix (same as the cache's). @default 'sg' */
  keyPrefix?: string;
  /** Used while Redis is unavailable. @default LocalTokenBucket({qps, burst, maxWaitMs}) */
  fallback?: RequestBudget;
  /** @default a breaker opening after 5 failures for 2 s */
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
    this.breaker = opts.breaker ?? new Breaker({ failureThreshold: 5, openMs: 2000 });
  }

  /** One attempt: 0 when a token was taken, else ms until one will be. Throws when Redis is unavailable. */
  tryTake(targetId: string): Promise<number> {
    const key = budgetKey(this.opts.keyPrefix ?? 'sg', targetId);
    return this.breaker.run(async () => Number(await TAKE.run(this.client, [key], [this.opts.qps, this.opts.burst])));
  }

  /** Tokens left in the cluster bucket (the fallback's while Redis is unavailable). */
  async tokensLeft(targetId: string): Promise<number | undefined> {
    const key = budgetKey(this.opts.keyPrefix ?? 'sg', targetId);
    try {
      return Number(await this.breaker.run(() => PEEK.run(this.client, [key], [this.opts.qps, this.opts.burst])));
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
      if (waitMs <= 0) return;
      if (signal?.aborted || (!signal && Date.now() + waitMs > deadline)) {
        throw new ThrottledError(`KMS request budget exhausted for ${targetId}`);
      }
      await sleep(waitMs, signal).catch(() => {
        throw new ThrottledError(`KMS request budget exhausted for ${targetId}`);
      });
    }
  }
}
