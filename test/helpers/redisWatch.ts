/**
 * Watch buses over real Redis for tests: a keyed tag function (as the cache's KeyNamer provides in
 * production), a unique key prefix per test, and ioredis clients set up the way a latency-
 * sensitive gateway should (few retries, command timeout), all closed at teardown.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { ExecutionContext } from 'ava';
import Redis, { Cluster } from 'ioredis';
import { createRedisWatchBus } from '../../src/watch/redisBus';
import type { WatchBus } from '../../src/watch/bus';
import type { RedisCluster, RedisInstance } from './redis';

/** One keyed naming function shared by every "replica" of a test (a per-test random key). */
export function keyedTagOf(key: Buffer = randomBytes(32)): (selectorKey: string) => string {
  return (k) => createHmac('sha256', key).update(k, 'utf8').digest('hex').slice(0, 32);
}

export const uniquePrefix = () => `t${randomBytes(4).toString('hex')}`;

const REDIS_OPTS = { maxRetriesPerRequest: 1, commandTimeout: 1000, enableOfflineQueue: true } as const;

/** A client on `target`, disconnected at teardown (registered first, so it runs after the hubs close). */
export function redisClient(t: ExecutionContext, target: RedisInstance | RedisCluster): Redis | Cluster {
  const client = 'nodes' in target ? new Cluster(target.nodes, { redisOptions: REDIS_OPTS }) : new Redis(target.url, REDIS_OPTS);
  client.on('error', () => undefined);
  t.teardown(() => client.disconnect());
  return client;
}

export function redisBus(t: ExecutionContext, target: RedisInstance | RedisCluster, prefix: string, tagOf: (k: string) => string): { bus: WatchBus; client: Redis | Cluster } {
  const client = redisClient(t, target);
  return { bus: createRedisWatchBus({ redis: client, tagOf, keyPrefix: prefix, commandTimeoutMs: 1000 }), client };
}
