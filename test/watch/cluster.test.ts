/**
 * The cross-replica watch on a 3-master Redis Cluster: per-key lease and interest live in one slot
 * (hash tags), events travel over plain PUBLISH/SUBSCRIBE, which the cluster broadcasts.
 */
import test from 'ava';
import { startRedisCluster, type RedisCluster } from '../helpers/redis';
import { delay, eventually } from '../helpers/watchGateway';
import { MIN_GAP_MS, pollGaps, spreadWatchers, threeReplicas, TIMING } from './scenarios';

let cluster: RedisCluster;
test.before(async () => {
  cluster = await startRedisCluster(3);
});
test.after.always(async () => {
  await cluster?.stop();
});

test('cluster: a rotation reaches watchers on every replica with one poller per key', async (t) => {
  const c = await threeReplicas(t, cluster);
  const db = await spreadWatchers(t, c, 'db', 3);
  const api = await spreadWatchers(t, c, 'api', 1);
  c.reader.rotate('db', 'v2');
  c.reader.rotate('api', 'a2');
  await Promise.all(db.map((w) => w.nextSecret('v2')));
  await Promise.all(api.map((w) => w.nextSecret('a2')));
  await delay(800);
  for (const name of ['db', 'api']) {
    const gaps = pollGaps(c.reader, name);
    t.true(gaps.length >= 3, `${name} polled`);
    t.true(Math.min(...gaps) >= MIN_GAP_MS - 15, `${name}: min gap ${Math.min(...gaps)} ms`);
  }
  t.is(c.gateways.reduce((n, g) => n + g.hub.stats().polls, 0), c.reader.forceCalls());

  for (const w of [...db, ...api]) w.call.cancel();
  await eventually(() => c.gateways.every((g) => g.hub.stats().pollingKeys === 0), 3000, 'polling to stop');
  const after = c.reader.forceCalls();
  await delay(3 * TIMING.pollIntervalMs!);
  t.is(c.reader.forceCalls(), after);
});
