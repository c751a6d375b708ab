/**
 * A poller replica that dies without cleanup (SIGKILL, as when a node is lost): its lease and its
 * interest lapse on their own, another replica takes over polling, and watchers keep getting
 * rotations. Every replica runs a real SecretStore over the one Redis, so the poller's writes reach
 * the others on the cache's change feed.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { selectorKey } from '../../src/model';
import { keyRingFrom, RedisTier, SecretStore } from '../../src/cache';
import { FakeSource, version } from '../helpers/fakeSource';
import { startRedis, type RedisInstance } from '../helpers/redis';
import { keyedTagOf, redisBus, redisClient, uniquePrefix } from '../helpers/redisWatch';
import { delay, eventually, openWatch, startTestGateway, type TestGateway, type WatchRecorder } from '../helpers/watchGateway';
import { TIMING } from './scenarios';

let redis: RedisInstance;
test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

test('a SIGKILLed poller is replaced after its lease lapses, and its interest expires', async (t) => {
  const prefix = uniquePrefix();
  const key = randomBytes(32);
  const tagOf = keyedTagOf(key);
  const child = spawn(process.execPath, ['--import=tsx', join(__dirname, 'fixtures', 'pollerProcess.ts'), redis.url, prefix, key.toString('hex'), 'db'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  let childPolls = 0;
  let holding = false;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    for (const line of chunk.split('\n')) {
      if (line === 'poll') childPolls++;
      if (line === 'holding') holding = true;
    }
  });
  await eventually(() => holding, 15_000, 'the child to hold the lease');

  let current = 'v1';
  const source = new FakeSource({ respond: (sel) => version(sel.name, current, `value-${current}`) });
  const gws: TestGateway[] = [];
  const ws: WatchRecorder[] = [];
  for (let i = 0; i < 2; i++) {
    const { bus } = redisBus(t, redis, prefix, tagOf);
    const store = new SecretStore({ source, tier: new RedisTier(redisClient(t, redis), prefix), keyRing: keyRingFrom([{ id: 'k1', material: key }]), config: { keyPrefix: prefix, refreshAheadRatio: 0 } });
    t.teardown(() => store.close());
    await store.ready();
    const gw = await startTestGateway(t, { reader: store, hub: { ...TIMING, bus, replicaId: `parent-${i}` } });
    gws.push(gw);
    const w = openWatch(t, gw.client, { name: 'db' });
    await w.nextSecret('v1');
    ws.push(w);
  }
  await delay(500);
  t.is(source.calls, 0, 'the child polls for everyone while it lives');
  t.true(childPolls > 0);

  child.kill('SIGKILL');
  await eventually(() => source.calls > 0, 5000, 'a surviving replica to take over polling');
  current = 'v2';
  await Promise.all(ws.map((w) => w.nextSecret('v2')));

  // The dead replica's interest lapses (3 × lease) without anyone removing it.
  const { client } = redisBus(t, redis, prefix, tagOf);
  const interest = `${prefix}:w:{${tagOf(selectorKey({ name: 'db', versionStage: 'ACSCurrent' }))}}:int`;
  const live = async () => {
    // Membership scores are Redis TIME (the gateway never trusts its own clock for expiry).
    const [sec, usec] = await (client as import('ioredis').Redis).time();
    const now = Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
    return (await (client as import('ioredis').Redis).zrangebyscore(interest, now, '+inf')).sort();
  };
  await eventually(async () => (await live()).join() === 'parent-0,parent-1', 5000, "the child's interest to expire");
  t.is(gws.reduce((n, g) => n + g.hub.stats().pollingKeys, 0), 1);
});
