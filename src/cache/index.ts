/**
 * The distributed secret cache. Composition (main.ts):
 *
 *   const keyRing = parseKeyRing(cfg.cacheSealKeys)            // or generateKeyRing() in dev
 *   const redis = createRedisClient({ url }, { commandTimeoutMs, logger })
 *   const tier = redis ? new RedisTier(redis, cacheCfg.keyPrefix) : new MemoryTier(new MemoryBackend(), cacheCfg.keyPrefix)
 *   const store = new SecretStore({ source: kmsPool, tier, keyRing, config: cacheCfg, logger })
 *   const budget = new RedisTokenBucket(redis, { qps, burst, keyPrefix, fallback: new LocalTokenBucket(...) })
 *   await warmUp(store, selectors, { concurrency, jitterMs, signal })
 *   ...
 *   await store.close(); redis.quit()
 */
export { DEFAULT_CACHE_CONFIG, resolveCacheConfig, type CacheConfig } from './config';
export { SecretStore, type CacheResult, type FreshnessSource, type GetOptions, type SecretStoreDeps, type StoreStats } from './secretStore';
export type { SecretSource } from './secretSource';
export type { CacheUpdate, CacheUpdateListener, EvictReason } from './events';
export type { SharedTier, SharedRead } from './sharedTier';
export { RedisTier } from './redisTier';
export { MemoryBackend, MemoryTier } from './memoryTier';
export { createRedisClient, waitForReady, type RedisClient, type RedisTarget, type RedisTuning } from './redisClient';
export { parseKeyRing, keyRingFrom, generateKeyRing, newKeySpec, type KeyRing, type KeyRingOptions } from './keyRing';
export { Sealer } from './seal';
export { Breaker, SharedTierUnavailableError, type BreakerState } from './breaker';
export { RedisTokenBucket, type RedisBudgetOptions } from './redisBudget';
export { warmUp, type WarmUpOptions, type WarmUpReport } from './warmUp';
