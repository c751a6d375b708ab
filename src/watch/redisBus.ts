/**
 * The Redis WatchBus: poll leases and the interest registry, shared by every replica. Works on standalone Redis, Sentinel and Redis Cluster (ioredis `Redis | Cluster`).
 *
 * Keys (`p` = keyPrefix, `tag` = opaque keyed tag of a selector, never a secret name):
 *   p:w:{tag}:lease    string token, PX lease       one poller per key for the whole cluster
 *   p:w:{tag}:int      zset replicaId → expiry ms   which replicas have watchers on the key
 *   p:w:watched        zset tag → expiry ms         which keys anyone watches (metrics)
 * `{tag}` is a Cluster hash tag, so a key's lease and interest share one slot. No channel: updates
 * reach every replica on the cache's change feed.
 */
import type { Cluster, Redis } from 'ioredis';
import { BackendUnavailableError } from '../errors';
import type { WatchBus } from './bus';
import { foreignAbove, runScript, type ScriptName } from '../cluster/scripts';

export interface RedisWatchBusOptions {
  /** The gateway's Redis client. The bus never closes it. */
  redis: Redis | Cluster;
  /**
   * The keyed tag of a canonical selector key: wire the cache's `KeyNamer.tag`, so key names in
   * Redis reveal no secret names and cannot confirm a guess. Every replica must use the same one.
   */
  tagOf: (selectorKey: string) => string;
  /** Prefix of every key (no braces): the cache's `keyPrefix`. */
  keyPrefix: string;
  /** Upper bound on each Redis call of the bus, so a hung Redis cannot stall polling. @default 2000 */
  commandTimeoutMs?: number;
}


export function createRedisWatchBus(opts: RedisWatchBusOptions): WatchBus {
  const p = `${opts.keyPrefix}:w`;
  const watchedKey = `${p}:watched`;
  const leaseKey = (tag: string) => `${p}:{${tag}}:lease`;
  const interestKey = (tag: string) => `${p}:{${tag}}:int`;
  const timeoutMs = opts.commandTimeoutMs ?? 2000;
  const redis = opts.redis;

  const bounded = <T>(what: string, p: Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new BackendUnavailableError(`redis ${what} timed out after ${timeoutMs} ms`)), timeoutMs);
      p.then(resolve, reject).finally(() => clearTimeout(timer));
    });
  const evalNum = (what: string, script: ScriptName, key: string, ...args: (string | number)[]) => bounded(what, runScript(redis, script, [key], args));

  return {
    tagOf: opts.tagOf,
    // A squatted lease (no expiry, or a TTL far above ours) is taken over: see cluster/scripts.ts.
    acquireLease: async (tag, token, ttlMs) => (await evalNum('lease acquire', 'sgAcquire', leaseKey(tag), token, ttlMs, foreignAbove(ttlMs))) === 1,
    extendLease: async (tag, token, ttlMs) => (await evalNum('lease extend', 'sgExtend', leaseKey(tag), token, ttlMs)) === 1,
    releaseLease: async (tag, token) => {
      await evalNum('lease release', 'sgRelease', leaseKey(tag), token);
    },
    joinInterest: async (tag, replicaId, ttlMs) => {
      await evalNum('interest join', 'sgJoin', interestKey(tag), replicaId, ttlMs);
      // A second key in another slot: a separate call (Cluster forbids cross-slot scripts).
      await evalNum('watched join', 'sgJoin', watchedKey, tag, ttlMs);
    },
    leaveInterest: async (tag, replicaId) => {
      const left = await evalNum('interest leave', 'sgLeave', interestKey(tag), replicaId);
      // Racing a replica that joins right now is harmless: its next refresh re-adds the tag.
      if (left === 0) await bounded('watched leave', redis.zrem(watchedKey, tag));
    },
    interestCount: (tag) => evalNum('interest count', 'sgCount', interestKey(tag)),
    watchedCount: () => evalNum('watched count', 'sgCount', watchedKey),
    close: async () => undefined,
  };
}
