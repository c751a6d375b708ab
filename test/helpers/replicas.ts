/**
 * In-process gateway replicas for cluster tests: dev-mode gateways sharing one real redis-server,
 * one seal key and one key prefix (so they share a cache), each on its own port with its own
 * grpc-js client, all stopped at teardown.
 */
import { randomBytes } from 'node:crypto';
import type { ExecutionContext } from 'ava';
import type { SecretSource } from '../../src/cache/secretSource';
import type { CacheConfig } from '../../src/cache/config';
import { loadConfig } from '../../src/config/load';
import type { SecretsGatewayServiceClient } from '../../src/gen/secretsgateway/v1/secrets_gateway';
import { startGateway, type RunningGateway } from '../../src/main';
import { gatewayClient } from './grpc';
import { freePort } from './redis';

export interface ReplicaSet {
  gws: RunningGateway[];
  clients: SecretsGatewayServiceClient[];
  prefix: string;
  material: Buffer;
}

export async function startReplicas(
  t: ExecutionContext,
  o: { count: number; redisUrl: string; source: SecretSource; env: Record<string, string>; tuning?: Partial<CacheConfig>; watchLeaseMs?: number },
): Promise<ReplicaSet> {
  const material = randomBytes(32);
  const prefix = `t${randomBytes(3).toString('hex')}`;
  const gws: RunningGateway[] = [];
  const clients: SecretsGatewayServiceClient[] = [];
  for (let i = 0; i < o.count; i++) {
    const port = await freePort();
    const config = loadConfig({
      mode: 'dev',
      env: {},
      overrides: {
        SECRETS_GATEWAY_LISTEN: `127.0.0.1:${port}`,
        SECRETS_GATEWAY_REDIS_URL: o.redisUrl,
        SECRETS_GATEWAY_CACHE_SEAL_KEYS: `k1:${material.toString('base64')}`,
        SECRETS_GATEWAY_CACHE_KEY_PREFIX: prefix,
        ...o.env,
      },
    });
    Object.assign(config.cache.tuning, o.tuning ?? {});
    const gw = await startGateway(config, { source: o.source, replicaId: `replica-${i}`, ...(o.watchLeaseMs ? { watchLeaseMs: o.watchLeaseMs } : {}) });
    t.teardown(() => gw.shutdown());
    gws.push(gw);
    const c = gatewayClient(gw.port);
    t.teardown(() => c.close());
    clients.push(c);
  }
  return { gws, clients, prefix, material };
}
