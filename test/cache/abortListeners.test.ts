/**
 * No wait parks listeners on a long-lived signal: hundreds of concurrent fills (waiting on the
 * KMS budget, or on another replica's fill) hold at most a couple of 'abort' listeners on any one
 * signal, and none once they settle. Before the fix each fill added one to the store's close
 * signal (MaxListenersExceededWarning at 11).
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { LocalTokenBucket } from '../../src/kms/budget';
import { MemoryBackend, MemoryTier, RedisTier, SecretStore, createRedisClient, keyRingFrom, waitForReady, type SharedTier } from '../../src/cache';
import { trackAbortListeners } from '../helpers/abortListeners';
import { FakeSource } from '../helpers/fakeSource';
import { startRedis } from '../helpers/redis';

const ring = keyRingFrom([{ id: 'k1', material: randomBytes(32) }]);
const KEYS = 150;

/** Two replicas on one tier, the source behind a slow budget: every fill waits, some on each other. */
async function scenario(t: import('ava').ExecutionContext, tier: () => SharedTier) {
  const tracker = trackAbortListeners();
  t.teardown(() => tracker.restore());
  const budget = new LocalTokenBucket({ qps: 2000, burst: 1, maxWaitMs: 10_000 });
  const source = new FakeSource({ latencyMs: 5, before: (_sel, signal) => budget.acquire('t', signal) });
  const stores = [0, 1].map(() => new SecretStore({ source, tier: tier(), keyRing: ring, config: { keyPrefix: 'lst', refreshAheadRatio: 0 } }));
  await Promise.all(stores.map((s) => s.ready()));
  const sels = Array.from({ length: KEYS }, (_, i) => ({ name: `listeners/s${i}` }));
  for (let round = 0; round < 2; round++) {
    const results = await Promise.allSettled(stores.flatMap((s) => sels.map((sel) => s.get(sel, { signal: AbortSignal.timeout(30_000) }))));
    t.true(results.every((r) => r.status === 'fulfilled'), 'every read answered');
  }
  t.is(source.calls, KEYS, 'one source call per secret');
  t.true(tracker.maxOnOneSignal <= 3, `at most 3 'abort' listeners on any one signal (saw ${tracker.maxOnOneSignal})`);
  await Promise.all(stores.map((s) => s.close()));
  t.is(tracker.live(), 0, 'no listener outlives the reads and the stores');
}

test.serial('memory tier: 600 reads of 150 cold secrets over 2 stores leave no abort listener behind', async (t) => {
  const backend = new MemoryBackend();
  await scenario(t, () => new MemoryTier(backend, 'lst'));
});

test.serial('Redis tier: the same, with fill waits on the other replica over real pub/sub', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const clients = [0, 1].map(() => createRedisClient({ url: redis.url }, { commandTimeoutMs: 2000 }));
  t.teardown(() => clients.forEach((c) => c.disconnect()));
  await Promise.all(clients.map((c) => waitForReady(c, { signal: AbortSignal.timeout(5000) })));
  let i = 0;
  await scenario(t, () => new RedisTier(clients[i++]!, 'lst'));
});
