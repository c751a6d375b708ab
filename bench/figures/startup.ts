/**
 * Figure (h): a serve replica from process start to SERVING on grpc.health.v1, first with nothing
 * to warm up, then with `secrets` secrets in SECRETS_GATEWAY_WARMUP_SECRETS against a cold shared
 * tier (readiness waits for warm-up), and the GetSecretValue calls that warm-up cost.
 */
import type { RedisInstance } from '../../test/helpers/redis';
import { startReplica } from '../gateways';
import { warmName, type BenchKms } from '../material';

export interface Startup {
  servingMs: number;
  warmSecrets: number;
  warmConcurrency: number;
  servingWithWarmUpMs: number;
  warmUpKmsCalls: number;
}

const CONCURRENCY = 16;

export async function startup(kms: BenchKms, redis: RedisInstance, secrets: number): Promise<Startup> {
  const bare = await startReplica(kms, { redis, prefix: 'bench-h0', pollMs: 10 });
  await bare.crash();
  const before = kms.getSecretValueCalls();
  const warm = await startReplica(kms, {
    redis,
    prefix: 'bench-h1',
    pollMs: 10,
    extra: {
      SECRETS_GATEWAY_WARMUP_SECRETS: Array.from({ length: secrets }, (_, i) => warmName(i)).join(','),
      SECRETS_GATEWAY_WARMUP_CONCURRENCY: String(CONCURRENCY),
      SECRETS_GATEWAY_WARMUP_JITTER_MS: '0',
    },
  });
  const warmUpKmsCalls = kms.getSecretValueCalls() - before;
  await warm.crash();
  return { servingMs: bare.servingMs, warmSecrets: secrets, warmConcurrency: CONCURRENCY, servingWithWarmUpMs: warm.servingMs, warmUpKmsCalls };
}
