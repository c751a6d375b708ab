import test from 'ava';
import Redis, { Cluster } from 'ioredis';
import { startRedis, startRedisCluster } from '../helpers/redis';

test('the helper starts a private standalone redis-server on loopback and stops it', async (t) => {
  const r = await startRedis();
  t.teardown(() => r.stop());
  const client = new Redis(r.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  t.teardown(() => client.disconnect());
  await client.connect();
  t.is(await client.ping(), 'PONG');
  t.regex(await client.info('server'), /redis_version:7\./);
});

test('the helper starts a 3-master Redis Cluster on loopback', async (t) => {
  const c = await startRedisCluster(3);
  t.teardown(() => c.stop());
  const client = new Cluster(c.nodes, { redisOptions: { maxRetriesPerRequest: 1 } });
  t.teardown(() => client.disconnect());
  await client.set('{k}a', '1');
  t.is(await client.get('{k}a'), '1');
  t.is(client.nodes('master').length, 3);
});
