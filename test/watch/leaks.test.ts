/**
 * After close(), the watch module leaves nothing behind: no timer, interval, socket or listener
 * that would keep the process alive. (One test per file: other tests' timers would blur the count.)
 */
import test from 'ava';
import { createWatchHub } from '../../src/watch/hub';
import { createMemoryBus } from '../../src/watch/memoryBus';
import { runWatchStream, type WatchMessage } from '../../src/watch/stream';
import { FakeReader, version } from '../helpers/fakeReader';
import { startRedis } from '../helpers/redis';
import { keyedTagOf, redisClient, uniquePrefix } from '../helpers/redisWatch';
import { createRedisWatchBus } from '../../src/watch/redisBus';
import { delay, eventually } from '../helpers/watchGateway';

// Timers, sockets and child processes; not in-flight fs requests (module loading and the Redis
// helper's temp files come and go on their own schedule, and the watch module does no fs I/O).
const handles = () =>
  process
    .getActiveResourcesInfo()
    .filter((r) => r !== 'TTYWrap' && !r.startsWith('FSReq'))
    .sort();

test.serial('hubs, detectors, buses and streams release every timer and socket', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  await delay(50);
  const baseline = handles();

  const reader = new FakeReader();
  reader.set(version('db', 'v1'));
  const tagOf = keyedTagOf();
  const prefix = uniquePrefix();
  const client = redisClient(t, redis);
  const hubs = [
    createWatchHub({ reader, bus: createMemoryBus(), pollIntervalMs: 50, leaseMs: 150 }),
    createWatchHub({ reader, bus: createRedisWatchBus({ redis: client, tagOf, keyPrefix: prefix }), pollIntervalMs: 50, leaseMs: 150 }),
  ];
  const streams = hubs.map((hub) => {
    const ac = new AbortController();
    const got: WatchMessage[] = [];
    const done = runWatchStream({
      hub,
      sel: { name: 'db', versionStage: 'ACSCurrent' },
      sink: { write: (m) => (got.push(m), true), drained: async () => undefined },
      signal: ac.signal,
      heartbeatMs: 30,
    }).catch((e: unknown) => e);
    return { ac, got, done };
  });
  await eventually(() => streams.every((s) => s.got.length >= 3) && reader.forceCalls() >= 2, 3000, 'streams and polls running');
  // Sampled until seen: between two timers of a busy loop the count can dip to the baseline.
  await eventually(() => handles().length > baseline.length, 3000, 'the hubs to hold timers while running');
  t.pass('the hubs hold timers while running');

  for (const s of streams) s.ac.abort(new Error('client gone'));
  for (const s of streams) t.is(((await s.done) as Error).message, 'client gone');
  t.deepEqual(hubs.map((h) => h.stats().subscribers), [0, 0]);
  t.is(reader.feedListeners, 0, 'the hubs left the cache feed');
  await Promise.all(hubs.map((h) => h.close()));
  client.disconnect();
  await eventually(() => handles().length <= baseline.length, 3000, 'handles to return to the baseline').catch(() => undefined);
  t.deepEqual(handles(), baseline);
});
