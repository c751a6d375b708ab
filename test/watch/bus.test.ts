/**
 * The WatchBus contract, run against both implementations: the in-memory bus (dev mode) and the
 * Redis bus on a real redis-server. Same expectations, so the hub behaves the same on either.
 */
import test, { type ExecutionContext } from 'ava';
import type { WatchBus } from '../../src/watch/bus';
import { createMemoryBus, MemoryBroker } from '../../src/watch/memoryBus';
import { startRedis, type RedisInstance } from '../helpers/redis';
import { keyedTagOf, redisBus, uniquePrefix } from '../helpers/redisWatch';
import { delay } from '../helpers/watchGateway';

let redis: RedisInstance;
test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

/** Two buses that share state, as two replicas would. */
type Pair = (t: ExecutionContext) => [WatchBus, WatchBus];
const kinds: [string, Pair][] = [
  [
    'memory',
    () => {
      const broker = new MemoryBroker();
      return [createMemoryBus(broker), createMemoryBus(broker)];
    },
  ],
  [
    'redis',
    (t) => {
      const prefix = uniquePrefix();
      const tagOf = keyedTagOf();
      return [redisBus(t, redis, prefix, tagOf).bus, redisBus(t, redis, prefix, tagOf).bus];
    },
  ],
];

for (const [kind, pair] of kinds) {
  test(`${kind}: one lease holder at a time; extend and release only with the holder's token`, async (t) => {
    const [a, b] = pair(t);
    t.teardown(() => Promise.all([a.close(), b.close()]));
    t.true(await a.acquireLease('k', 'tokA', 5000));
    t.false(await b.acquireLease('k', 'tokB', 5000));
    t.false(await b.extendLease('k', 'tokB', 5000));
    await b.releaseLease('k', 'tokB');
    t.false(await b.acquireLease('k', 'tokB', 5000), 'a release with the wrong token is ignored');
    t.true(await a.extendLease('k', 'tokA', 5000));
    await a.releaseLease('k', 'tokA');
    t.true(await b.acquireLease('k', 'tokB', 5000), 'free at once after release');
  });

  test(`${kind}: a lease that is not extended lapses`, async (t) => {
    const [a, b] = pair(t);
    t.teardown(() => Promise.all([a.close(), b.close()]));
    t.true(await a.acquireLease('k', 'tokA', 100));
    await delay(150);
    t.false(await a.extendLease('k', 'tokA', 100), 'too late to extend');
    t.true(await b.acquireLease('k', 'tokB', 5000));
  });

  test(`${kind}: interest counts live replicas, expires, and leaving the last one empties the watched set`, async (t) => {
    const [a, b] = pair(t);
    t.teardown(() => Promise.all([a.close(), b.close()]));
    await a.joinInterest('k1', 'r1', 5000);
    await b.joinInterest('k1', 'r2', 150);
    await b.joinInterest('k2', 'r2', 5000);
    t.is(await a.interestCount('k1'), 2);
    t.is(await a.watchedCount(), 2);
    await delay(200);
    t.is(await a.interestCount('k1'), 1, "r2's membership expired");
    await a.leaveInterest('k1', 'r1');
    t.is(await b.interestCount('k1'), 0);
    t.is(await b.watchedCount(), 1);
    await b.leaveInterest('k2', 'r2');
    t.is(await a.watchedCount(), 0);
  });

  test(`${kind}: tags are opaque and stable`, (t) => {
    const [a, b] = pair(t);
    t.teardown(() => Promise.all([a.close(), b.close()]));
    const key = JSON.stringify(['', 'prod/db-password', 'stage:ACSCurrent', 0]);
    t.is(a.tagOf(key), b.tagOf(key));
    t.false(a.tagOf(key).includes('db-password'));
    t.regex(a.tagOf(key), /^[0-9a-f]{32}$/);
  });
}

test('redis: no secret name appears in any Redis key', async (t) => {
  const prefix = uniquePrefix();
  const { bus, client } = redisBus(t, redis, prefix, keyedTagOf());
  t.teardown(() => bus.close());
  const tag = bus.tagOf(JSON.stringify(['', 'prod/db-password', 'stage:ACSCurrent', 0]));
  await bus.joinInterest(tag, 'r1', 5000);
  await bus.acquireLease(tag, 'tok', 5000);
  const keys = await (client as import('ioredis').Redis).keys(`${prefix}:*`);
  t.is(keys.length, 3);
  for (const k of keys) t.false(k.includes('db-password'), k);
  t.true(keys.every((k) => k === `${prefix}:w:watched` || k.includes(`{${tag}}`)), 'per-key data shares a hash slot');
});
