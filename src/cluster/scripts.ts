/**
 * Every Lua script the gateway runs on Redis, written once, and run through ioredis
 * `defineCommand` (EVALSHA, loaded again by ioredis after NOSCRIPT, e.g. after a Redis restart).
 * Each script touches one key, or keys that share one `{tag}` hash slot, so all run on Cluster.
 *
 * Times come from the Redis server's clock (TIME), never a replica's. Nothing read back from
 * Redis is trusted to be what the gateway wrote: a lock or lease without an expiry, or with a TTL
 * far above what the gateway ever sets, is someone else's (a squatter) and is taken over; a
 * budget bucket with fields that are not numbers in range is reset.
 */
import type { RedisClient } from '../cache/redisClient';

const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * The budget bucket of KEYS[1] (ARGV: qps, burst) read, validated and refilled to now, as locals
 * `tokens` and `at`. Fields that are missing, not numbers, or out of range (tokens outside
 * [0, burst], a time after Redis' own now, which the gateway never writes, or long past) read as
 * a full bucket: a tampered bucket costs one refill, never a hang or a busy loop.
 */
const BUCKET = `${NOW}
local qps = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1])
local at = tonumber(b[2])
if tokens == nil or at == nil or tokens ~= tokens or at ~= at or tokens < 0 or tokens > burst or at > now or at < now - 86400000 then
  tokens = burst
  at = now
end
if now > at then tokens = math.min(burst, tokens + (now - at) * qps / 1000); at = now end`;

/** name → [number of keys, source]. */
const SCRIPTS = {
  /** KEYS: lock, write, delete. ARGV: token, sealed, ttlMs. Writes only while the token holds the lock. */
  sgFencedFill: [
    3,
    `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('DEL', KEYS[3])
return 1`,
  ],
  /**
   * KEYS: lock or lease. ARGV: token, ttlMs, maxTtlMs. Takes it when free, or when what holds it
   * is not one of ours: no expiry, or a TTL above `maxTtlMs` (the gateway never sets more).
   * Already held by `token`: 1 (so a caller whose reply timed out may simply ask again).
   */
  sgAcquire: [
    1,
    `if redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -2 or ttl == -1 or ttl > tonumber(ARGV[3]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`,
  ],
  /** KEYS: lock or lease. ARGV: token, ttlMs. Compare-and-pexpire: 1 extended, 0 lost. */
  sgExtend: [
    1,
    `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`,
  ],
  /** KEYS: lock or lease. ARGV: token. Compare-and-delete: 1 released, 0 not ours. */
  sgRelease: [
    1,
    `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
  ],
  /**
   * KEYS: sorted set of member → expiry (server ms). ARGV: member, ttlMs. Adds or refreshes the
   * member, drops expired ones, and keeps the key alive at least as long as its newest member.
   */
  sgJoin: [
    1,
    `${NOW}
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1`,
  ],
  /** KEYS: sorted set. ARGV: member. Live members left after removing it. */
  sgLeave: [
    1,
    `${NOW}
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])`,
  ],
  /** KEYS: sorted set. Live (unexpired) members. */
  sgCount: [
    1,
    `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])`,
  ],
  /** KEYS: budget bucket. ARGV: qps, burst. 0 when a token was taken, else ms until one will be (see BUCKET). */
  sgTakeToken: [
    1,
    `${BUCKET}
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) * 1000 / qps) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(at))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / qps) + 1000)
return wait`,
  ],
  /** KEYS: budget bucket. ARGV: qps, burst. Tokens left now (a metric), without taking one; a bad bucket reads as full. */
  sgPeekTokens: [
    1,
    `${BUCKET}
return tostring(tokens)`,
  ],
} as const;

export type ScriptName = keyof typeof SCRIPTS;

/** A lock or lease with more TTL left than this is not ours: twice the lease the gateway sets. */
export const foreignAbove = (leaseMs: number): number => 2 * leaseMs;

const defined = new WeakSet<object>();

/** Runs script `name` on `client` (defining every script on it the first time). */
export async function runScript(client: RedisClient, name: ScriptName, keys: string[], args: (string | number)[]): Promise<number> {
  if (!defined.has(client)) {
    for (const [n, [numberOfKeys, lua]] of Object.entries(SCRIPTS)) client.defineCommand(n, { numberOfKeys, lua });
    defined.add(client);
  }
  const command = (client as unknown as Record<ScriptName, (...a: (string | number)[]) => Promise<unknown>>)[name];
  return Number(await command.call(client, ...keys, ...args));
}
