/**
 * The gateway configured for Redis Sentinel finds the master through the sentinel and shares its
 * cache there, and keeps answering through a failover (master killed, replica promoted).
 */
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import test from 'ava';
import Redis from 'ioredis';
import { newKeySpec } from '../../src/cache';
import type { GetSecretResponse } from '../../src/gen/secretsgateway/v1/secrets_gateway';
import { Freshness_Source } from '../../src/gen/secretsgateway/v1/secrets_gateway';
import { BINARY, startDevGateway, TEXT } from '../helpers/conformance';
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

/** GetSecret on `name` through gateway `port`: its freshness source, or the gRPC code it failed with. */
function getSecret(port: number, name: string): Promise<{ source?: Freshness_Source; code?: status }> {
  return new Promise((resolve) => {
    const c = gatewayClient(port);
    c.getSecret({ name, versionStage: '', versionId: '', regionId: '', fetchExtendedConfig: false }, new Metadata(), { deadline: Date.now() + 10_000 }, (e, r) => {
      c.close();
      resolve(e ? { code: (e as ServiceError).code } : { source: r!.freshness?.source });
    });
  });
}

async function until(cond: () => Promise<boolean> | boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('Sentinel failover under load: the master is killed, its replica promoted; 0 failed reads of cached secrets, and the shared tier resumes on the new master by itself', async (t) => {
  const rs = await startRedisSentinel('sgfailover', { replicas: 1 });
  t.teardown(() => rs.stop());
  const env = {
    SECRETS_GATEWAY_REDIS_SENTINELS: `127.0.0.1:${rs.sentinel.port}`,
    SECRETS_GATEWAY_REDIS_SENTINEL_NAME: rs.name,
    SECRETS_GATEWAY_CACHE_SEAL_KEYS: newKeySpec('s2'),
    SECRETS_GATEWAY_LIMIT_GET_RPS: '100000',
    SECRETS_GATEWAY_LIMIT_GET_BURST: '100000',
    SECRETS_GATEWAY_LIMIT_MISS_RPS: '1000',
  };
  const a = await startDevGateway(t, env);
  const b = await startDevGateway(t, env);
  const cached = [TEXT, BINARY];
  for (const name of cached) {
    t.is((await getSecret(a.gateway.port, name)).source, Freshness_Source.SOURCE_KMS);
    t.is((await getSecret(b.gateway.port, name)).source, Freshness_Source.SOURCE_SHARED_CACHE);
  }
  const replica = new Redis(rs.replicas[0]!.url);
  t.teardown(() => replica.disconnect());
  await until(async () => (await replica.dbsize()) > 0, 'the replica to hold the cache');

  // Steady reads of the cached secrets on both gateways, until told to stop.
  let stop = false;
  const outcomes = new Map<string, number>();
  const loop = async (port: number, i: number) => {
    for (let n = 0; !stop; n++) {
      const r = await getSecret(port, cached[(i + n) % cached.length]!);
      const k = r.code === undefined ? 'ok' : status[r.code];
      outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
      await new Promise((res) => setTimeout(res, 5));
    }
  };
  const load = [0, 1, 2].flatMap((i) => [loop(a.gateway.port, i), loop(b.gateway.port, i)]);
  try {
    await rs.master.kill();
    await until(async () => (await rs.masterPort()) === rs.replicas[0]!.port, 'the sentinel to promote the replica');
    // A secret only a's emulator knows: b can answer it only from the shared tier, i.e. the new master.
    let i = 0;
    await until(async () => {
      const name = `failover/cold-${i++}`;
      a.emulator!.store.createSecret({ name, versionId: 'v1', data: 'SENTINEL-failover' });
      const fromA = await getSecret(a.gateway.port, name);
      const fromB = await getSecret(b.gateway.port, name);
      return fromA.source === Freshness_Source.SOURCE_KMS && fromB.source === Freshness_Source.SOURCE_SHARED_CACHE;
    }, 'a value written after the failover to reach the other gateway through the new master');
    t.true((await replica.dbsize()) > 0);
  } finally {
    stop = true;
    await Promise.all(load);
  }
  const summary = Object.fromEntries(outcomes);
  t.log(`reads of cached secrets during the failover: ${JSON.stringify(summary)}`);
  t.true((outcomes.get('ok') ?? 0) > 0);
  t.deepEqual([...outcomes.keys()], ['ok'], `every read of a cached secret answered: ${JSON.stringify(summary)}`);
});
