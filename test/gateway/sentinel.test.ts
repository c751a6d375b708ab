/** The gateway configured for Redis Sentinel finds the master through the sentinel and shares its cache there. */
import { Metadata } from '@grpc/grpc-js';
import test from 'ava';
import Redis from 'ioredis';
import { newKeySpec } from '../../src/cache';
import type { GetSecretResponse } from '../../src/gen/secretsgateway/v1/secrets_gateway';
import { Freshness_Source } from '../../src/gen/secretsgateway/v1/secrets_gateway';
import { startDevGateway, TEXT } from '../helpers/conformance';
import { gatewayClient } from '../helpers/grpc';
import { startRedisSentinel } from '../helpers/redis';

test('SECRETS_GATEWAY_REDIS_SENTINELS: two gateways share one cache through the sentinel-discovered master', async (t) => {
  const rs = await startRedisSentinel();
  t.teardown(() => rs.stop());
  const env = {
    SECRETS_GATEWAY_REDIS_SENTINELS: `127.0.0.1:${rs.sentinel.port}`,
    SECRETS_GATEWAY_REDIS_SENTINEL_NAME: rs.name,
    SECRETS_GATEWAY_CACHE_SEAL_KEYS: newKeySpec('s1'),
  };
  const a = await startDevGateway(t, env);
  const b = await startDevGateway(t, env); // its own emulator: a KMS call from b would be visible in b's counters
  const get = (port: number) =>
    new Promise<GetSecretResponse>((resolve, reject) => {
      const c = gatewayClient(port);
      c.getSecret({ name: TEXT, versionStage: '', versionId: '', regionId: '', fetchExtendedConfig: false }, new Metadata(), (e, r) => (c.close(), e ? reject(e) : resolve(r!)));
    });
  t.is((await get(a.gateway.port)).freshness?.source, Freshness_Source.SOURCE_KMS);
  const fromB = await get(b.gateway.port);
  t.is(fromB.freshness?.source, Freshness_Source.SOURCE_SHARED_CACHE, 'the second gateway read the first one\'s value from Redis');
  t.is(b.emulator!.counters().GetSecretValue ?? 0, 0);
  const direct = new Redis(rs.master.url);
  t.teardown(() => direct.disconnect());
  t.true((await direct.dbsize()) > 0, 'the values live on the master the sentinel names');
});
