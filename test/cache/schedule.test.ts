/**
 * SecretStore.schedule: the cache's refresher is the one scheduler of a watched key. Three replicas
 * over one real redis-server all schedule the same key (as if each had won a watch lease) with
 * refresh-ahead off and no reads: KMS is asked about once per cadence for the cluster, since each
 * due time reads the shared tier (any replica's check counts) and then takes the refresh lease.
 * Closing the last handle stops the checks.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { createRedisClient, keyRingFrom, RedisTier, SecretStore, waitForReady } from '../../src/cache';
import { sleep } from '../../src/abort';
import { FakeSource, version } from '../helpers/fakeSource';
import { startRedis } from '../helpers/redis';
import { entryKeys, KeyNamer } from '../../src/cache/keys';
import { selectorKey } from '../../src/model';

const CADENCE_MS = 200;

test('three replicas scheduling one unread key: about one KMS call per cadence, none after the handles close', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const ring = keyRingFrom([{ id: 'k1', material: randomBytes(32) }]);
  const source = new FakeSource({ respond: (sel) => version(sel.name, 'v1', 'value-v1') });
  const cache = { keyPrefix: 'sch', refreshAheadRatio: 0, ttlMs: 60_000, refreshLeaseMs: 2_000, lockLeaseMs: 2_000 };
  const stores: SecretStore[] = [];
  for (let i = 0; i < 3; i++) {
    const client = createRedisClient({ url: redis.url }, { commandTimeoutMs: 1000 });
    t.teardown(() => client.disconnect());
    await waitForReady(client, { signal: AbortSignal.timeout(5_000) });
    const store = new SecretStore({ source, tier: new RedisTier(client, 'sch'), keyRing: ring, config: cache });
    t.teardown(() => store.close());
    await store.ready({ signal: AbortSignal.timeout(5_000) });
    stores.push(store);
  }
  const sel = { name: 'app/watched' };
  await stores[0]!.get(sel);
  let checks = 0;
  const plan = { nextCheckAtMs: (checkedAtMs: number) => checkedAtMs + CADENCE_MS, onCheck: () => void checks++ };
  const handles = stores.map((s) => s.schedule(sel, plan));
  t.true(stores.every((s) => s.stats().refreshTimers === 1), 'each replica arms one timer for the key');
  const before = source.calls;
  const windowMs = 8 * CADENCE_MS;
  await sleep(windowMs);
  const calls = source.calls - before;
  t.log(`${calls} KMS calls in ${windowMs / CADENCE_MS} cadences, 3 replicas scheduling the key`);
  // Three independent schedulers would make about 24.
  t.true(calls <= windowMs / CADENCE_MS + 1, `${calls} KMS calls`);
  t.true(calls >= 4, 'the key kept being checked although nobody read it');
  t.is(checks, calls, 'every KMS call was one of the schedule\'s checks, reported once');

  for (const h of handles) h.close();
  for (const h of handles) h.close(); // idempotent
  t.true(stores.every((s) => s.stats().trackedRefreshes === 0), 'unread and unwatched: no longer tracked');
  const after = source.calls;
  await sleep(3 * CADENCE_MS);
  t.is(source.calls, after, 'no check after the last handle closed');
});

test('a squatted refresh lease (a Redis writer renewing a plausible lease it never serves) delays a watched key by two leases, never stops it', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const ring = keyRingFrom([{ id: 'k1', material: randomBytes(32) }]);
  let version_ = 1;
  const source = new FakeSource({ respond: (sel) => version(sel.name, `v${version_}`, 'value') });
  const cache = { keyPrefix: 'sq', refreshAheadRatio: 0, ttlMs: 60_000, refreshLeaseMs: 300, lockLeaseMs: 2_000 };
  const client = createRedisClient({ url: redis.url }, { commandTimeoutMs: 1000 });
  t.teardown(() => client.disconnect());
  await waitForReady(client, { signal: AbortSignal.timeout(5_000) });
  const store = new SecretStore({ source, tier: new RedisTier(client, 'sq'), keyRing: ring, config: cache });
  t.teardown(() => store.close());
  await store.ready({ signal: AbortSignal.timeout(5_000) });
  const sel = { name: 'app/squatted' };
  await store.get(sel);
  const lease = entryKeys('sq', new KeyNamer(ring.namingKey, 'sq').tag(selectorKey(sel))).lease;
  // Below foreignAbove(300) = 600 ms, so it passes for one of ours; renewed before it lapses.
  const squat = () => client.set(lease, 'squatter', 'PX', 500);
  await squat();
  const renew = setInterval(() => void squat(), 150);
  t.teardown(() => clearInterval(renew));
  const handle = store.schedule(sel, { nextCheckAtMs: (checkedAtMs: number) => checkedAtMs + CADENCE_MS });
  t.teardown(() => handle.close());
  version_ = 2; // a rotation the squatter would like to hide
  const before = source.calls;
  for (let i = 0; i < 300 && (await store.get(sel)).secret.versionId !== 'v2'; i++) await sleep(20);
  t.is((await store.get(sel)).secret.versionId, 'v2', 'the rotation got through the squatted lease');
  t.true(source.calls > before);
  t.true(store.stats().squattedRefreshLeases >= 1, 'counted');
});
