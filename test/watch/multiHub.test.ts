/**
 * Three replicas over one real redis-server: fan-out, one poller per key for the whole cluster,
 * polling stops with the last watcher, and a closed poller is replaced.
 */
import test from 'ava';
import { startRedis, type RedisInstance } from '../helpers/redis';
import { delay, eventually } from '../helpers/watchGateway';
import { interestKeyOf, leaseKeyOf, MIN_GAP_MS, pollGaps, spreadWatchers, threeReplicas, TIMING } from './scenarios';

let redis: RedisInstance;
test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

test('one rotation reaches every watcher on every replica; KMS polls do not grow with watchers or replicas', async (t) => {
  const c = await threeReplicas(t, redis);
  const db = await spreadWatchers(t, c, 'db', 4);
  const api = await spreadWatchers(t, c, 'api', 1);
  const startMs = Date.now();
  c.reader.rotate('db', 'v2');
  await Promise.all(db.map((w) => w.nextSecret('v2')));
  await delay(1200);
  const elapsedMs = Date.now() - startMs;

  // One poller per key for the whole cluster: polls of a key never come closer than one cadence,
  // which two independent pollers (or one per watcher) would break at once.
  for (const name of ['db', 'api']) {
    const gaps = pollGaps(c.reader, name);
    t.true(gaps.length >= 5, `${name} was polled (${gaps.length + 1} polls)`);
    t.true(Math.min(...gaps) >= MIN_GAP_MS - 15, `${name}: min gap ${Math.min(...gaps)} ms`);
  }
  const dbPollsInWindow = c.reader.forceCallList('db').filter((x) => x.atMs >= startMs).length;
  t.true(dbPollsInWindow <= Math.ceil(elapsedMs / MIN_GAP_MS) + 1, `${dbPollsInWindow} polls in ${elapsedMs} ms`);
  // Every force read is a detector poll, and the hubs together made exactly that many.
  const hubPolls = c.gateways.reduce((n, g) => n + g.hub.stats().polls, 0);
  t.is(hubPolls, c.reader.forceCalls());
  // Non-polling replicas caught up through the cache's feed (which dropped their stale L1
  // entries) with plain reads: no KMS call, no staleness trick.
  t.true(c.reader.calls.every((x) => x.maxStalenessMs === undefined || x.maxStalenessMs === 0), 'catch-up reads are plain reads');
  for (const w of api) t.is(w.messages.filter((m) => m.secret).length, 1, 'api watchers saw no spurious version');
  t.is(c.gateways.reduce((n, g) => n + g.hub.stats().pollingKeys, 0), 2, 'exactly one poller per key');
});

test('polling stops once the last watcher anywhere has left', async (t) => {
  const c = await threeReplicas(t, redis);
  const ws = await spreadWatchers(t, c, 'db', 2);
  await delay(400);
  t.true(c.reader.forceCalls('db') > 0);
  // Leave replica by replica: the poller's own watchers may go first (it keeps polling for the others).
  for (const w of ws) {
    w.call.cancel();
    await delay(30);
  }
  await eventually(() => c.gateways.every((g) => g.hub.stats().pollingKeys === 0 && g.hub.stats().subscribers === 0), 3000, 'every hub to stop');
  const after = c.reader.forceCalls('db');
  await delay(3 * TIMING.pollIntervalMs! + TIMING.leaseMs!);
  t.is(c.reader.forceCalls('db'), after, 'no poll after the last watcher left');
  const redisCli = c.client as import('ioredis').Redis;
  t.is(await redisCli.exists(leaseKeyOf(c, 'db')), 0, 'the lease was released');
  t.is(await redisCli.zcard(interestKeyOf(c, 'db')), 0, 'no interest left');
  t.is(await redisCli.zcard(`${c.prefix}:w:watched`), 0, 'no watched key left');
});

test('when the poller replica closes, another takes over and rotations keep arriving', async (t) => {
  const c = await threeReplicas(t, redis);
  const ws = await spreadWatchers(t, c, 'db', 1);
  await eventually(() => c.gateways.some((g) => g.hub.stats().pollingKeys === 1), 3000, 'a poller');
  const idx = c.gateways.findIndex((g) => g.hub.stats().pollingKeys === 1);
  const holder = c.gateways[idx]!;
  await holder.service.endAllStreams();
  await holder.hub.close();
  holder.server.forceShutdown();
  const rest = c.gateways.filter((_, i) => i !== idx);
  await eventually(() => rest.some((g) => g.hub.stats().pollingKeys === 1), 3000, 'another replica to take the lease');
  c.reader.rotate('db', 'v2');
  await Promise.all(ws.filter((_, i) => i !== idx).map((w) => w.nextSecret('v2')));
  t.is(rest.reduce((n, g) => n + g.hub.stats().pollingKeys, 0), 1);
});
