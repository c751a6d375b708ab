/**
 * Refresh-ahead: after warm-up, a hot secret is never fetched on the request path, across several
 * TTLs, with two replicas sharing Redis and only one of them refreshing each time; and a rotation
 * inside the TTL is picked up just after it happens.
 */
import test from 'ava';
import { SecretStore, RedisTier, createRedisClient, keyRingFrom, waitForReady, warmUp, type CacheConfig, type CacheUpdate, type KeyRing } from '../../src/cache';
import { sleep } from '../../src/abort';
import { startRedis, type RedisInstance } from '../helpers/redis';
import { within } from './harness';
import { FakeSource, version } from '../helpers/fakeSource';
import { randomBytes } from 'node:crypto';

async function replica(t: import('ava').ExecutionContext, redis: RedisInstance, source: FakeSource, ring: KeyRing, cache: Partial<CacheConfig>) {
  const client = createRedisClient({ url: redis.url }, { commandTimeoutMs: 1000 });
  t.teardown(() => client.disconnect());
  await waitForReady(client, { signal: AbortSignal.timeout(5_000) });
  const store = new SecretStore({ source, tier: new RedisTier(client, cache.keyPrefix!), keyRing: ring, config: cache });
  t.teardown(() => store.close());
  await store.ready({ signal: AbortSignal.timeout(5_000) });
  return store;
}

test('after warm-up no read waits for the source across several TTLs; one replica refreshes each time', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const ring = keyRingFrom([{ id: 'k1', material: randomBytes(32) }]);
  // Refresh at half the TTL leaves 500 ms of margin, so a loaded 2-core machine does not make a refresh late.
  const cache = { keyPrefix: 'ra', ttlMs: 1_000, ttlJitterRatio: 0.1, refreshAheadRatio: 0.5, l1TtlMs: 100, refreshLeaseMs: 2_000, lockLeaseMs: 2_000, fillPollMs: 50 };
  const source = new FakeSource({ latencyMs: 20 });
  const a = await replica(t, redis, source, ring, cache);
  const b = await replica(t, redis, source, ring, cache);
  const sels = Array.from({ length: 5 }, (_, i) => ({ name: `hot/s${i}` }));
  t.deepEqual((await warmUp(a, sels, { concurrency: 2, jitterMs: 20 })).failed, []);
  t.deepEqual((await warmUp(b, sels, { concurrency: 2, jitterMs: 20 })).failed, []);
  const callsAfterWarmUp = source.calls;
  t.is(callsAfterWarmUp, sels.length, 'warm-up: one call per secret for both replicas');

  const sources: Record<string, number> = {};
  const started = Date.now();
  const DURATION = 3_000;
  const loop = async (store: SecretStore) => {
    while (Date.now() - started < DURATION) {
      const r = await store.get(sels[Math.floor(Math.random() * sels.length)]);
      sources[r.freshness.source] = (sources[r.freshness.source] ?? 0) + 1;
      await sleep(5);
    }
  };
  await Promise.all([loop(a), loop(a), loop(b), loop(b)]);
  const elapsed = Date.now() - started;
  const refreshes = source.calls - callsAfterWarmUp;

  t.log(`reads by source: ${JSON.stringify(sources)}; refresh calls in ${elapsed} ms: ${refreshes} for ${sels.length} secrets`);
  t.is(sources.KMS ?? 0, 0, 'no read was answered by a source call');
  t.is(sources.STALE ?? 0, 0);
  t.true(refreshes >= sels.length * 3, 'refreshes happened (several TTLs passed)');
  // One replica refreshes per cycle: a cycle is at least ttl × (1 − jitter) × refreshAheadRatio long.
  const minCycle = cache.ttlMs * (1 - cache.ttlJitterRatio) * cache.refreshAheadRatio;
  for (const sel of sels) {
    t.true(source.callsFor(sel) - 1 <= Math.ceil(elapsed / minCycle) + 1, `${sel.name}: ${source.callsFor(sel) - 1} refreshes`);
  }
  await Promise.all([a.close(), b.close()]);
  t.like(a.stats(), { refreshTimers: 0, trackedRefreshes: 0, heldLocks: 0, inFlight: 0 });
});

test('rotation-aware: when the next rotation falls inside the TTL, the entry is re-checked just after it', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const rotationAt = Date.now() + 400;
  const source = new FakeSource({
    respond: (sel, n) =>
      Date.now() < rotationAt
        ? version(sel.name, 'v-before', 'before', { nextRotationTimeMs: rotationAt, automaticRotation: true })
        : version(sel.name, `v-after-${n}`, 'after', { nextRotationTimeMs: rotationAt + 3_600_000, automaticRotation: true }),
  });
  const ring = keyRingFrom([{ id: 'k1', material: randomBytes(32) }]);
  const store = await replica(t, redis, source, ring, { keyPrefix: 'rot', ttlMs: 60_000, rotationCheckDelayMs: 50, refreshAheadRatio: 0.75 });
  const sel = { name: 'rotating' };
  const rotated = new Promise<CacheUpdate>((resolve) => {
    const off = store.subscribe(sel, (u) => {
      if (u.type === 'written' && u.versionId.startsWith('v-after')) (off(), resolve(u));
    });
  });
  t.is((await store.get(sel)).secret.versionId, 'v-before');
  const u = await within(rotated, 'rotation write');
  t.like(u, { type: 'written', origin: 'local' });
  t.is(source.calls, 2, 'one check, just after the rotation, not a poll loop');
  const r = await store.get(sel);
  t.true(r.secret.versionId.startsWith('v-after'));
  t.not(r.freshness.source, 'KMS');
});
