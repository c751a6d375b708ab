/**
 * Redis down: watches must not go silent. Each replica polls its own watched keys until the bus
 * answers again, then the cluster returns to one poller per key and pub/sub fan-out.
 */
import test from 'ava';
import { FakeReader, version } from '../helpers/fakeReader';
import { startRedis } from '../helpers/redis';
import { keyedTagOf, redisBus, uniquePrefix } from '../helpers/redisWatch';
import { eventually, openWatch, startTestGateway, type TestGateway, type WatchRecorder } from '../helpers/watchGateway';
import { TIMING } from './scenarios';

test('with Redis down each replica polls for its own watchers; afterwards one poller again', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const reader = new FakeReader();
  reader.set(version('db', 'v1'));
  const prefix = uniquePrefix();
  const tagOf = keyedTagOf();
  const gws: TestGateway[] = [];
  const ws: WatchRecorder[] = [];
  for (let i = 0; i < 2; i++) {
    const gw = await startTestGateway(t, { reader: reader.withL1(0), hub: { ...TIMING, bus: redisBus(t, redis, prefix, tagOf).bus, replicaId: `r${i}` } });
    gws.push(gw);
    const w = openWatch(t, gw.client, { name: 'db' });
    await w.nextSecret('v1');
    ws.push(w);
  }
  const sum = (f: (s: ReturnType<TestGateway['hub']['stats']>) => number) => gws.reduce((n, g) => n + f(g.hub.stats()), 0);
  await eventually(() => sum((s) => s.pollingKeys) === 1, 3000, 'one poller');

  await redis.kill();
  reader.partitioned = true; // the cache's feed runs over the same Redis
  reader.rotate('db', 'v2');
  await eventually(() => sum((s) => s.degradedKeys) === 2, 8000, 'both replicas to poll on their own');
  await Promise.all(ws.map((w) => w.nextSecret('v2', 8000)));
  t.true(gws.every((g) => g.hub.stats().polls > 0), 'both replicas polled during the outage');
  for (const w of ws) t.false(w.ended, 'streams stayed open');

  await redis.start();
  reader.partitioned = false;
  await eventually(() => sum((s) => s.pollingKeys) === 1 && sum((s) => s.degradedKeys) === 0, 8000, 'one poller again');
  const before = gws.map((g) => g.hub.stats().polls);
  reader.rotate('db', 'v3');
  await Promise.all(ws.map((w) => w.nextSecret('v3', 8000)));
  const polled = gws.map((g, i) => g.hub.stats().polls - before[i]!);
  t.is(polled.filter((n) => n > 0).length, 1, `only the lease holder polls again (${polled.join(',')})`);
});
