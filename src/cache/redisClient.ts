/**
 * Builds the ioredis client of the shared tier from `{url}`, `{sentinels}` or `{clusterNodes}`, with
 * every option that matters set on purpose (ioredis' defaults suit a batch job, not a gateway
 * answering under a deadline):
 * - `commandTimeout`: ioredis takes no AbortSignal, so this is what bounds every command.
 * - `maxRetriesPerRequest: 1`: a command fails fast instead of being replayed 20 times.
 * - `enableOfflineQueue: false`: while disconnected, commands fail at once (the breaker then
 *   routes around Redis) instead of queueing without bound until it returns.
 * - reconnects forever with capped, jittered backoff, so the tier comes back by itself.
 */
import Redis, { Cluster, type RedisOptions } from 'ioredis';
import type { Logger } from '../telemetry/logger';
import { defaultOf } from '../config/settings';

export type RedisClient = Redis | Cluster;

export interface HostPortAddr {
  host: string;
  port: number;
}

export type RedisTarget =
  | { url: string }
  | { sentinels: HostPortAddr[]; name: string; password?: string; username?: string; sentinelPassword?: string; tls?: boolean }
  | { clusterNodes: HostPortAddr[]; password?: string; username?: string; tls?: boolean };

export interface RedisTuning {
  /** Longest wait for any one command's reply. @default setting SECRETS_GATEWAY_REDIS_COMMAND_TIMEOUT_MS */
  commandTimeoutMs?: number;
  /** Longest wait for a TCP (+TLS) connect. @default setting SECRETS_GATEWAY_REDIS_CONNECT_TIMEOUT_MS */
  connectTimeoutMs?: number;
  /** Reconnect backoff cap (exponential from 50 ms, plus up to 100 ms jitter). @default 2000 */
  reconnectMaxDelayMs?: number;
  /** Retries of one command across a reconnect. @default 1 */
  maxRetriesPerRequest?: number;
  /** Connection errors are logged here (debug; the breaker logs the outage itself). */
  logger?: Logger;
}

export function backoff(times: number, capMs: number, random: () => number = Math.random): number {
  return Math.min(capMs, 50 * 2 ** Math.min(times, 16)) + Math.floor(random() * 100);
}

/** Creates the client. The caller owns it: it is not closed by the tier or the store. */
export function createRedisClient(target: RedisTarget, tuning: RedisTuning = {}): RedisClient {
  const client = build(target, tuning);
  client.on('error', (err: Error) => tuning.logger?.debug('redis: connection error', { error: err.message }));
  return client;
}

function build(target: RedisTarget, tuning: RedisTuning): RedisClient {
  const cap = tuning.reconnectMaxDelayMs ?? 2000;
  const connectTimeout = tuning.connectTimeoutMs ?? defaultOf('SECRETS_GATEWAY_REDIS_CONNECT_TIMEOUT_MS');
  const common: RedisOptions = {
    commandTimeout: tuning.commandTimeoutMs ?? defaultOf('SECRETS_GATEWAY_REDIS_COMMAND_TIMEOUT_MS'),
    connectTimeout,
    maxRetriesPerRequest: tuning.maxRetriesPerRequest ?? 1,
    enableOfflineQueue: false,
    retryStrategy: (times) => backoff(times, cap),
  };
  if ('url' in target) return new Redis(target.url, common);
  if ('sentinels' in target) {
    return new Redis({
      ...common,
      sentinels: target.sentinels,
      name: target.name,
      password: target.password,
      username: target.username,
      sentinelPassword: target.sentinelPassword,
      sentinelRetryStrategy: (times) => backoff(times, cap),
      ...(target.tls ? { tls: {}, enableTLSForSentinelMode: true } : {}),
    });
  }
  const { retryStrategy: _r, enableOfflineQueue: _e, ...nodeOptions } = common;
  return new Cluster(target.clusterNodes, {
    enableOfflineQueue: false,
    clusterRetryStrategy: (times) => backoff(times, cap),
    slotsRefreshTimeout: connectTimeout,
    redisOptions: { ...nodeOptions, password: target.password, username: target.username, ...(target.tls ? { tls: {} } : {}) },
  });
}

/** Resolves when the client is ready; rejects when `signal` aborts first. Cleans up its listeners. */
export function waitForReady(client: RedisClient, opts: { signal?: AbortSignal } = {}): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (err?: unknown) => {
      client.off('ready', onReady);
      opts.signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    const onReady = () => done();
    const onAbort = () => done(opts.signal!.reason);
    if (opts.signal?.aborted) return done(opts.signal.reason);
    client.once('ready', onReady);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
}
