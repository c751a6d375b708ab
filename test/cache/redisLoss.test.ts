/**
 * A Redis that restarts empty is not an eviction. While Redis is reachable, an L1 value it does
 * not hold is normally refused as a stale answer (another replica may have evicted it on
 * NotFound/AccessDenied); after a restart that loses everything, refusing it turns a KMS outage
 * into failed reads of secrets nobody revoked. The tier's epoch key tells the two apart.
 * Real redis-server; the store's clock is injected, so nothing here depends on the wall clock.
 */
import test from 'ava';
import { BackendUnavailableError } from '../../src/errors';
import { RedisTier, SecretStore, createRedisClient, waitForReady } from '../../src/cache';
import { startRedis } from '../helpers/redis';
import { FakeSource, version } from '../helpers/fakeSource';
import { Clock, testRing, uniquePrefix } from './harness';
import { entryKeys, KeyNamer } from '../../src/cache/keys';
import { selectorKey } from '../../src/model';

const TTL = { ttlMs: 10_000, ttlJitterRatio: 0, l1TtlMs: 1_000, maxStaleMs: 600_000, refreshAheadRatio: 0 };

test('Redis restarted empty while KMS fails: L1 values are answered STALE; values evicted under the same epoch, or confirmed after the restart, still fail closed', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const client = createRedisClient({ url: redis.url }, { commandTimeoutMs: 300, reconnectMaxDelayMs: 100 });
  t.teardown(() => client.disconnect());
  await waitForReady(client, { signal: AbortSignal.timeout(5_000) });
  const clock = new Clock();
  const prefix = uniquePrefix();
  const ring = testRing();
  let kmsDown = false;
  const source = new FakeSource({ respond: (sel, n) => (kmsDown ? new BackendUnavailableError('KMS unreachable') : version(sel.name, `v${n}`, 'x')) });
  const store = new SecretStore({ source, tier: new RedisTier(client, prefix), keyRing: ring, now: clock.now, config: { keyPrefix: prefix, ...TTL } });
  t.teardown(() => store.close());
  await store.ready();
  const namer = new KeyNamer(ring.namingKey, prefix);
  const valueKey = (name: string) => entryKeys(prefix, namer.tag(selectorKey({ name }))).value;

  for (const name of ['app/restarted', 'app/evicted', 'app/after']) t.is((await store.get({ name })).freshness.source, 'KMS');

  // Same epoch, value gone from Redis (an eviction whose event this replica missed): fail closed.
  await client.del(valueKey('app/evicted'));
  kmsDown = true;
  clock.advance(TTL.ttlMs + 1);
  await t.throwsAsync(store.get({ name: 'app/evicted' }), { instanceOf: BackendUnavailableError });

  // Redis loses everything (SIGKILL, no persistence) and comes back empty, KMS still down.
  await redis.kill();
  await redis.start();
  await waitForReady(client, { signal: AbortSignal.timeout(5_000) });
  for (let i = 0; i < 100 && client.status !== 'ready'; i++) await new Promise((r) => setTimeout(r, 20));
  t.is(await client.exists(valueKey('app/restarted')), 0, 'the restarted Redis is empty');
  // Confirmed into the new Redis before this replica noticed the restart, then evicted elsewhere
  // (event missed): it must fail closed, although the epoch change is only seen afterwards.
  kmsDown = false;
  t.is((await store.get({ name: 'app/between' })).freshness.source, 'KMS');
  await client.del(valueKey('app/between'));
  kmsDown = true;
  clock.advance(TTL.ttlMs + 1);
  const r = await store.get({ name: 'app/restarted' });
  t.is(r.freshness.source, 'STALE');
  t.is(r.secret.versionId, 'v1');
  t.is(store.stats().breaker, 'closed', 'answered with Redis reachable, not through the breaker');
  await t.throwsAsync(store.get({ name: 'app/between' }), { instanceOf: BackendUnavailableError }, 'written after the restart: an eviction, not a loss');

  // A value confirmed after the restart and then missing from Redis is an eviction again.
  kmsDown = false;
  t.is((await store.get({ name: 'app/after' }, { maxStalenessMs: 0 })).freshness.source, 'KMS');
  await client.del(valueKey('app/after'));
  kmsDown = true;
  clock.advance(TTL.ttlMs + 1);
  await t.throwsAsync(store.get({ name: 'app/after' }), { instanceOf: BackendUnavailableError });
});

test('another replica refreshed the entry, then Redis and KMS fail: the same version is answered STALE; a version seen superseded is not', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const clock = new Clock();
  const prefix = uniquePrefix();
  const ring = testRing();
  let kmsDown = false;
  let current = 'v1';
  const source = new FakeSource({ respond: (sel) => (kmsDown ? new BackendUnavailableError('KMS unreachable') : version(sel.name, sel.name.endsWith('rotated') ? current : 'v1', 'x')) });
  const replica = async () => {
    const client = createRedisClient({ url: redis.url }, { commandTimeoutMs: 300, reconnectMaxDelayMs: 100 });
    client.on('error', () => {});
    t.teardown(() => client.disconnect());
    await waitForReady(client, { signal: AbortSignal.timeout(5_000) });
    const store = new SecretStore({ source, tier: new RedisTier(client, prefix), keyRing: ring, now: clock.now, config: { keyPrefix: prefix, ...TTL, breakerFailureThreshold: 1 } });
    t.teardown(() => store.close());
    await store.ready();
    return store;
  };
  const [a, b] = [await replica(), await replica()];
  for (const name of ['app/refreshed', 'app/rotated']) t.is((await a.get({ name })).freshness.source, 'KMS');

  // B confirms both with KMS (one of them at a new version); A hears it and stops answering from L1.
  current = 'v2';
  const heard = new Promise<void>((resolve) => {
    let n = 0;
    for (const name of ['app/refreshed', 'app/rotated']) a.subscribe({ name }, () => ++n === 2 && resolve());
  });
  for (const name of ['app/refreshed', 'app/rotated']) await b.refresh({ name });
  await heard;

  // Redis dies before A reads again, and KMS is down.
  await redis.kill();
  kmsDown = true;
  clock.advance(TTL.ttlMs + 1);
  const r = await a.get({ name: 'app/refreshed' });
  t.deepEqual([r.freshness.source, r.secret.versionId], ['STALE', 'v1']);
  await t.throwsAsync(a.get({ name: 'app/rotated' }), { instanceOf: BackendUnavailableError }, 'v1 was seen superseded by v2: never answered');
});
