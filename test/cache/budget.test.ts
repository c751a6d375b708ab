/**
 * The cluster-wide KMS request budget (Redis token bucket): replicas sharing Redis never exceed
 * it together; an exhausted budget waits up to the signal, then throws ThrottledError; with Redis
 * unavailable it falls back to the in-process bucket.
 */
import test from 'ava';
import { RedisTokenBucket, SecretStore, RedisTier, createRedisClient, keyRingFrom, waitForReady, type RedisClient } from '../../src/cache';
import { ThrottledError } from '../../src/errors';
import { startRedis, freePort } from '../helpers/redis';
import { FakeSource } from '../helpers/fakeSource';
import { randomBytes } from 'node:crypto';

const TARGET = 'cn-hangzhou/kms.cn-hangzhou.aliyuncs.com';

async function client(t: import('ava').ExecutionContext, url: string): Promise<RedisClient> {
  const c = createRedisClient({ url }, { commandTimeoutMs: 1000 });
  t.teardown(() => c.disconnect());
  await waitForReady(c, { signal: AbortSignal.timeout(5_000) });
  return c;
}

test('2 replicas sharing Redis: N concurrent requests never exceed R source calls per second (+ burst)', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const R = 20;
  const BURST = 5;
  const ring = keyRingFrom([{ id: 'k1', material: randomBytes(32) }]);
  const replicas = await Promise.all(
    [0, 1].map(async () => {
      const c = await client(t, redis.url);
      const budget = new RedisTokenBucket(c, { qps: R, burst: BURST, keyPrefix: 'bud' });
      const source = new FakeSource({ before: (_sel, signal) => budget.acquire(TARGET, signal) });
      const store = new SecretStore({ source, tier: new RedisTier(c, 'bud'), keyRing: ring, config: { keyPrefix: 'bud', refreshAheadRatio: 0 } });
      t.teardown(() => store.close());
      await store.ready();
      return { store, source };
    }),
  );
  const N = 60;
  const sels = Array.from({ length: N }, (_, i) => ({ name: `budget/s${i}` }));
  const started = Date.now();
  const results = await Promise.allSettled(replicas.flatMap((r) => sels.map((sel) => r.store.get(sel, { signal: AbortSignal.timeout(30_000) }))));
  const elapsedMs = Date.now() - started;
  const callTimes = replicas.flatMap((r) => r.source.callTimes).sort((a, b) => a - b);

  t.true(results.every((r) => r.status === 'fulfilled'), 'every request was served');
  t.is(callTimes.length, N, 'one source call per secret, cluster-wide');
  let worst = 0;
  for (let i = 0; i < callTimes.length; i++) {
    const inWindow = callTimes.filter((c) => c >= callTimes[i] && c < callTimes[i] + 1000).length;
    worst = Math.max(worst, inWindow);
  }
  t.log(`R=${R}/s burst=${BURST}: ${N} calls in ${elapsedMs} ms; busiest 1-second window: ${worst} calls`);
  // A token bucket allows at most burst + R in any 1-second window. Tokens are timed by Redis TIME,
  // calls are timestamped here after the reply is processed, so allow 1 for that measurement jitter.
  t.true(worst <= R + BURST + 1, `busiest window ${worst} ≤ ${R + BURST} (+1 measurement slack)`);
  const spanMs = callTimes[callTimes.length - 1] - callTimes[0];
  t.true(N <= BURST + (R * spanMs) / 1000 + 1, `long run: ${N} calls in ${spanMs} ms`);
  t.true(worst >= R, 'the budget was actually the limit (the test exercised it)');
});

test('an exhausted budget waits up to the signal (or maxWaitMs), then throws ThrottledError; a read surfaces it', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const c = await client(t, redis.url);
  const budget = new RedisTokenBucket(c, { qps: 1, burst: 1, keyPrefix: 'ex', maxWaitMs: 20 });
  await budget.acquire(TARGET);
  await t.throwsAsync(budget.acquire(TARGET, AbortSignal.timeout(50)), { instanceOf: ThrottledError });
  await t.throwsAsync(budget.acquire(TARGET), { instanceOf: ThrottledError });
  await budget.acquire('another-target'); // buckets are per target

  const source = new FakeSource({ before: (_sel, signal) => budget.acquire(TARGET, signal) });
  const store = new SecretStore({
    source,
    tier: new RedisTier(c, 'ex'),
    keyRing: keyRingFrom([{ id: 'k1', material: randomBytes(32) }]),
    config: { keyPrefix: 'ex', refreshAheadRatio: 0, sourceTimeoutMs: 100 },
  });
  t.teardown(() => store.close());
  await t.throwsAsync(store.get({ name: 'throttled' }), { instanceOf: ThrottledError });
  t.is(source.calls, 0);
});

test('with Redis unavailable the budget falls back to the in-process bucket', async (t) => {
  const port = await freePort();
  const c = createRedisClient({ url: `redis://127.0.0.1:${port}` }, { commandTimeoutMs: 100 });
  c.on('error', () => {});
  t.teardown(() => c.disconnect());
  let fallbackCalls = 0;
  const budget = new RedisTokenBucket(c, { qps: 5, burst: 1, keyPrefix: 'fb', fallback: { acquire: async () => void fallbackCalls++ } });
  await budget.acquire(TARGET, AbortSignal.timeout(1_000));
  await budget.acquire(TARGET, AbortSignal.timeout(1_000));
  t.is(fallbackCalls, 2);
});
