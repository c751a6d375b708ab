/**
 * The gateway configurations the figures run, each a `secrets-gateway serve|dev` child process
 * configured only through SECRETS_GATEWAY_* settings. Per-caller limits and stream caps are raised
 * so the benchmark measures the gateway, not its rate limiter (one load generator is one caller).
 */
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { newKeySpec } from '../src/cache';
import { startGatewayProcess, type GatewayProcess } from '../test/helpers/gatewayProcess';
import type { RedisInstance } from '../test/helpers/redis';
import { metricValue, scrape } from '../test/helpers/admin';
import type { BenchKms, TlsFiles } from './material';

export const UNLIMITED: Record<string, string> = {
  SECRETS_GATEWAY_LOG_LEVEL: 'warn',
  SECRETS_GATEWAY_LIMIT_GET_RPS: '1000000',
  SECRETS_GATEWAY_LIMIT_GET_BURST: '1000000',
  SECRETS_GATEWAY_LIMIT_MISS_RPS: '100000',
  SECRETS_GATEWAY_LIMIT_MISS_BURST: '100000',
  SECRETS_GATEWAY_LIMIT_STREAM_OPENS_RPS: '100000',
  SECRETS_GATEWAY_LIMIT_STREAM_OPENS_BURST: '100000',
  SECRETS_GATEWAY_WATCH_MAX_STREAMS: '1000000',
  SECRETS_GATEWAY_WATCH_MAX_STREAMS_PER_CALLER: '100000',
  SECRETS_GATEWAY_MAX_CONCURRENT_STREAMS: '2000',
  SECRETS_GATEWAY_KMS_BUDGET_QPS: '100000',
  SECRETS_GATEWAY_KMS_BUDGET_BURST: '100000',
};

const redisEnv = (redis: RedisInstance, prefix: string) => ({
  SECRETS_GATEWAY_REDIS_URL: redis.url,
  SECRETS_GATEWAY_CACHE_SEAL_KEYS: newKeySpec('bench'),
  SECRETS_GATEWAY_CACHE_KEY_PREFIX: prefix,
});

/** (a), (d): `secrets-gateway dev` as shipped (embedded emulator, in-memory shared tier, L1 on). */
export function startDevGateway(extra: Record<string, string> = {}): Promise<GatewayProcess> {
  return startGatewayProcess({ ...UNLIMITED, ...extra }, { command: 'dev' });
}

/** (c): dev with a real redis-server shared tier and the in-process cache off (L1 TTL 0): every hit is a Redis read. */
export function startL1OffGateway(redis: RedisInstance): Promise<GatewayProcess> {
  return startGatewayProcess({ ...UNLIMITED, ...redisEnv(redis, 'bench-l1off'), SECRETS_GATEWAY_CACHE_L1_TTL_MS: '0' }, { command: 'dev' });
}

/** (b): serve as production runs it: mTLS required, identity from the client certificate, a policy, the audit trail to a file. */
export function startMtlsGateway(kms: BenchKms, tls: TlsFiles): Promise<GatewayProcess> {
  return startGatewayProcess(
    {
      ...UNLIMITED,
      ...kms.env,
      SECRETS_GATEWAY_ALLOW_IN_MEMORY_CACHE: 'true',
      SECRETS_GATEWAY_ALLOW_PLAINTEXT: 'false',
      SECRETS_GATEWAY_ALLOW_ALL_CALLERS: 'false',
      SECRETS_GATEWAY_TLS_CERT_FILE: tls.cert,
      SECRETS_GATEWAY_TLS_KEY_FILE: tls.key,
      SECRETS_GATEWAY_TLS_CLIENT_CA_FILE: tls.ca,
      SECRETS_GATEWAY_TLS_CLIENT_AUTH: 'require',
      SECRETS_GATEWAY_POLICY_FILE: tls.policy,
      SECRETS_GATEWAY_AUDIT_LOG: join(tls.dir, 'audit.log'),
    },
    { health: credentials.createSsl(readFileSync(tls.ca), readFileSync(tls.clientKey), readFileSync(tls.clientCert)), healthHost: 'localhost' },
  );
}

export interface ReplicaOptions {
  /** one shared redis-server (cluster single-flight), or none: each replica caches on its own */
  redis?: RedisInstance;
  prefix?: string;
  extra?: Record<string, string>;
  pollMs?: number;
}

/**
 * The replicas' watch poll interval. Longer than rotation → last delivery (about 2.5 s with 50,000
 * streams here), so the KMS calls counted over that window are the rotation's, not the cadence's.
 */
export const WATCH_POLL_MS = 5000;

/** (e), (f), (g), (h): a serve replica against the benchmark's emulator. */
export function startReplica(kms: BenchKms, o: ReplicaOptions = {}): Promise<GatewayProcess> {
  const tier = o.redis ? redisEnv(o.redis, o.prefix ?? 'bench') : { SECRETS_GATEWAY_ALLOW_IN_MEMORY_CACHE: 'true' };
  return startGatewayProcess({ ...UNLIMITED, ...kms.env, ...tier, SECRETS_GATEWAY_WATCH_POLL_INTERVAL_MS: String(WATCH_POLL_MS), ...o.extra }, { pollMs: o.pollMs });
}

/** Starts `n` replicas at once, sharing one set of options (and so one seal key with Redis). */
export async function startReplicas(kms: BenchKms, n: number, o: ReplicaOptions = {}): Promise<GatewayProcess[]> {
  const sealed = o.redis ? { SECRETS_GATEWAY_CACHE_SEAL_KEYS: newKeySpec('bench'), ...o.extra } : o.extra;
  const started = await Promise.allSettled(Array.from({ length: n }, () => startReplica(kms, { ...o, extra: sealed })));
  const up = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.all(up.map((g) => g.crash()));
    throw failed.reason;
  }
  return up;
}

export const METRIC_PREENCODED = 'secretsgateway_rpc_preencoded_answers_total';

/** The gateway's count of answers served from pre-encoded bytes, or undefined while it has no such metric. */
export async function preencodedAnswers(g: GatewayProcess): Promise<number | undefined> {
  const text = await scrape(g.adminPort);
  return new RegExp(`^${METRIC_PREENCODED}[ {]`, 'm').test(text) ? metricValue(text, METRIC_PREENCODED) : undefined;
}
