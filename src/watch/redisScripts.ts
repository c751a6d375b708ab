/**
 * Lua scripts of the Redis watch bus. Each touches one key only, so each runs on one Cluster slot.
 * Expiry times use the Redis server's clock (TIME), never a replica's, so clock skew between
 * replicas cannot expire someone else's interest early or keep a dead replica's alive.
 */

/** KEYS[1] lease, ARGV[1] token, ARGV[2] ttl ms → 1 extended, 0 lost. */
export const EXTEND_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`;

/** KEYS[1] lease, ARGV[1] token → 1 released, 0 not ours (expired, or another replica's). */
export const RELEASE_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * KEYS[1] sorted set of member → expiry (server ms), ARGV[1] member, ARGV[2] ttl ms.
 * Adds or refreshes the member, drops expired members, and keeps the key itself alive at least as
 * long as its newest member (so a set nobody refreshes disappears on its own).
 */
export const JOIN = `${NOW}
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1`;

/** KEYS[1] sorted set, ARGV[1] member → live members left after removing it. */
export const LEAVE = `${NOW}
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])`;

/** KEYS[1] sorted set → live (unexpired) members. */
export const COUNT = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])`;
