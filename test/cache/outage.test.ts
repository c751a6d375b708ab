/**
 * A Redis outage under load: redis-server is SIGKILLed while reads run. Reads of cached secrets
 * must not fail (L1, then the source with in-process single-flight); when redis-server is back the
 * store returns to the shared tier by itself (values are written to Redis again, events flow).
 */
import test from 'ava';
import Redis from 'ioredis';
import { SecretStore, RedisTier, createRedisClient, keyRingFrom, waitForReady, warmUp, type CacheUpdate } from '../../src/cache';
import { sleep } from '../../src/abort';
import { startRedis } from '../helpers/redis';
import { FakeSource } from '../helpers/fakeSource';
import { randomBytes } from 'node:crypto';

test('redis-server killed under load: zero failed reads; after restart the shared tier comes back on its own', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const ring = keyRingFrom([{ id: 'k1', material: randomBytes(32) }]);
  const cache = {
    keyPrefix: 'out',
    ttlMs: 3_000,
    l1TtlMs: 150,
    refreshAheadRatio: 0.5,
    breakerFailureThreshold: 2,
    breakerOpenMs: 300,
    lockLeaseMs: 2_000,
    fillPollMs: 50,
  };
  const replica = async () => {
    const client = createRedisClient({ url: redis.url }, { commandTimeoutMs: 300, reconnectMaxDelayMs: 300 });
    t.teardown(() => client.disconnect());
    await waitForReady(client, { signal: AbortSignal.timeout(5_000) });
    const store = new SecretStore({ source, tier: new RedisTier(client, 'out'), keyRing: ring, config: cache });
    t.teardown(() => store.close());
    await store.ready({ signal: AbortSignal.timeout(5_000) });
    return store;
  };
  const source = new FakeSource({ latencyMs: 5 });
  const store = await replica();
  const other = await replica();
  const sels = Array.from({ length: 10 }, (_, i) => ({ name: `outage/s${i}` }));
  const warm = await warmUp(store, sels, { concurrency: 3, jitterMs: 50 });
  t.deepEqual(warm, { ok: 10, failed: [], skipped: 0 });

  const phase = { name: 'before' as 'before' | 'outage' | 'after', stop: false };
  const reads = { before: 0, outage: 0, after: 0 };
  const failures: string[] = [];
  const breakerStates = new Set<string>();
  const loop = async () => {
    while (!phase.stop) {
      const sel = sels[Math.floor(Math.random() * sels.length)];
      try {
        await store.get(sel, { signal: AbortSignal.timeout(3_000) });
        reads[phase.name]++;
      } catch (err) {
        failures.push(`${phase.name}: ${(err as Error).name}: ${(err as Error).message}`);
      }
      breakerStates.add(`${phase.name}:${store.stats().breaker}`);
      await sleep(2);
    }
  };
  const loops = Array.from({ length: 4 }, loop);

  await sleep(300);
  phase.name = 'outage';
  await redis.kill();
  const callsAtKill = source.calls;
  await sleep(1_500);
  const callsInOutage = source.calls - callsAtKill;
  await redis.start();
  phase.name = 'after';

  // Comes back by itself: value keys reappear in the (restarted, empty) redis-server.
  const probe = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  t.teardown(() => probe.disconnect());
  let valueKeys: string[] = [];
  for (let i = 0; i < 300 && valueKeys.length === 0; i++) {
    await sleep(50);
    valueKeys = (await probe.keys('out:*:v').catch(() => [])) as string[];
  }
  phase.stop = true;
  await Promise.all(loops);

  t.deepEqual(failures, [], 'no read failed');
  t.true(reads.before > 0 && reads.outage > 0 && reads.after > 0);
  t.true(breakerStates.has('outage:open'), 'the breaker opened during the outage');
  t.true(valueKeys.length > 0, 'values are written to Redis again');
  t.is(store.stats().breaker, 'closed');
  t.log(`reads before/outage/after: ${reads.before}/${reads.outage}/${reads.after}; source calls during the outage: ${callsInOutage}; value keys after restart: ${valueKeys.length}`);

  // Pub/sub is back too: a write by the other replica reaches this one.
  const sel = sels[0];
  const event = new Promise<CacheUpdate>((resolve) => {
    const off = store.subscribe(sel, (u) => {
      if (u.type !== 'resync' && u.origin === 'remote') (off(), resolve(u));
    });
  });
  let got: CacheUpdate | undefined;
  for (let i = 0; i < 50 && !got; i++) {
    await other.refresh(sel);
    got = await Promise.race([event, sleep(100).then(() => undefined)]);
  }
  t.like(got, { type: 'written', origin: 'remote' });
});
