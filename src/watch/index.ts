/**
 * The watch module: interest registry, rotation detection across replicas, fan-out of the cache's
 * change feed, per-stream delivery. It must not know about auth or gRPC; `server/handlers/watchSecret.ts` adapts it.
 */
export type { WatchBus } from './bus';
export { createMemoryBus, MemoryBroker } from './memoryBus';
export { createRedisWatchBus, type RedisWatchBusOptions } from './redisBus';
export { createWatchHub, type WatchHub, type WatchHubOptions, type WatchHubStats, type WatchSubscription } from './hub';
export type { FreshnessInfo, FreshnessSource, KeyUpdate, ReadOptions, ReadResult, SecretFeed, SecretReader } from './reader';
export { runWatchStream, type StreamSink, type WatchMessage, type WatchStreamOptions } from './stream';
