/**
 * SecretStore behaviour on each shared tier (in-memory, a real standalone redis-server, a real
 * 3-master Redis Cluster):
 * tiers of an answer, selector isolation, max-staleness, stale-on-transient, fail-closed
 * evictions, negative caching, single-flight and its bounds, subscriptions, close().
 */
import test, { type ExecutionContext } from 'ava';
import { AccessDeniedError, BackendUnavailableError, ResourceExhaustedError, SecretNotFoundError, ThrottledError } from '../../src/errors';
import { SecretStore, type CacheUpdate, type SharedTier } from '../../src/cache';
import { FakeSource, version } from '../helpers/fakeSource';
import { Clock, makeStore, tierEnv, within, type TierEnv, type TierKind } from './harness';

const envs = new Map<TierKind, Promise<TierEnv>>();
const KINDS: TierKind[] = ['memory', 'redis', 'cluster'];
test.before(() => {
  for (const k of KINDS) envs.set(k, tierEnv(k));
});
test.after.always(async () => {
  for (const e of envs.values()) await (await e).stop();
});

const TTL = { ttlMs: 10_000, ttlJitterRatio: 0, l1TtlMs: 1_000, maxStaleMs: 60_000, negativeTtlMs: 5_000 };

function each(title: string, fn: (t: ExecutionContext, env: TierEnv) => Promise<void>) {
  for (const kind of KINDS) test(`${title} [${kind}]`, async (t) => fn(t, await envs.get(kind)!));
}

each('answers KMS, then LOCAL_CACHE, then SHARED_CACHE once L1 expires; a second replica starts from SHARED_CACHE', async (t, env) => {
  const clock = new Clock();
  const source = new FakeSource();
  const a = makeStore(t, env, source, { clock, config: TTL });
  const b = makeStore(t, env, source, { clock, config: TTL, prefix: a.prefix, ring: a.ring });
  const sel = { name: 'db/password' };
  t.is((await a.store.get(sel)).freshness.source, 'KMS');
  t.is((await a.store.get(sel)).freshness.source, 'LOCAL_CACHE');
  t.is((await b.store.get(sel)).freshness.source, 'SHARED_CACHE');
  clock.advance(TTL.l1TtlMs);
  const r = await a.store.get(sel);
  t.is(r.freshness.source, 'SHARED_CACHE');
  t.is(r.secret.value.kind === 'string' && r.secret.value.text, 'value-of-db/password-1');
  t.is(source.calls, 1);
});

each('entries of different selectors are never confused (Vault #28137)', async (t, env) => {
  const source = new FakeSource({
    respond: (sel) => version(sel.name, sel.versionId ?? `v-${sel.versionStage ?? 'cur'}`, JSON.stringify(sel), { regionId: sel.regionId ?? 'cn-hangzhou' }),
  });
  const { store } = makeStore(t, env, source, { config: TTL });
  const sels = [
    { name: 'app/key' },
    { name: 'app/key', versionStage: 'ACSPrevious' },
    { name: 'app/key', versionId: 'v-7' },
    { name: 'app/key', regionId: 'cn-shanghai' },
    { name: 'app/key', fetchExtendedConfig: true },
    { name: 'app/key2' },
  ];
  for (let round = 0; round < 2; round++) {
    for (const sel of sels) {
      const r = await store.get(sel);
      t.is(r.secret.value.kind === 'string' && r.secret.value.text, JSON.stringify(sel));
    }
  }
  t.is(source.calls, sels.length);
  // ACSCurrent spelled out is the same entry as the default stage.
  t.is((await store.get({ name: 'app/key', versionStage: 'ACSCurrent' })).freshness.source, 'LOCAL_CACHE');
});

each('maxStalenessMs: an answer checked longer ago is not acceptable; refresh() forces a round trip', async (t, env) => {
  const clock = new Clock();
  const source = new FakeSource();
  // No forced-refresh floor (the setting's default is 1 s): every bound below is taken as asked.
  const { store } = makeStore(t, env, source, { clock, config: { ...TTL, forcedRefreshMinIntervalMs: 0 } });
  const sel = { name: 'svc/token' };
  await store.get(sel);
  clock.advance(500);
  t.is((await store.get(sel, { maxStalenessMs: 5_000 })).freshness.source, 'LOCAL_CACHE');
  const forced = await store.get(sel, { maxStalenessMs: 100 });
  t.is(forced.freshness.source, 'KMS');
  t.is(forced.freshness.checkedAtMs, clock.now());
  t.is(source.calls, 2);
  t.is((await store.refresh(sel)).freshness.source, 'KMS');
  t.is(source.calls, 3);
  t.is((await store.get(sel, { maxStalenessMs: 0 })).freshness.source, 'KMS', '0 forces a round trip, even within the same ms');
  t.is(source.calls, 4);
});

/** A source whose second call (the refresh) waits until `release()`; `started` resolves when it is waiting. */
function slowSecondCall() {
  let open: (() => void) | undefined;
  let began: () => void = () => undefined;
  const started = new Promise<void>((r) => (began = r));
  const source = new FakeSource({
    respond: async (sel, n) => {
      if (n === 2) await new Promise<void>((r) => ((open = r), began()));
      return version(sel.name, `v${n}`, 'x');
    },
  });
  return { source, started, release: () => open?.() };
}

each('a refresh slower than staleIfSlowMs: the expired value is answered STALE, and the refresh goes on to fill the cache', async (t, env) => {
  const clock = new Clock();
  const { source, started, release } = slowSecondCall();
  const { store } = makeStore(t, env, source, { clock, config: { ...TTL, staleIfSlowMs: 20 } });
  const sel = { name: 'svc/slow-kms' };
  await store.get(sel);
  clock.advance(TTL.ttlMs + 1);
  const r = await store.get(sel);
  t.deepEqual([r.freshness.source, r.secret.versionId], ['STALE', 'v1']);
  t.is(store.stats().staleIfSlowAnswers, 1);
  await within(started, 'the refresh to reach the source');
  release();
  for (let i = 0; i < 200 && (await store.get(sel)).secret.versionId !== 'v2'; i++) await new Promise((res) => setTimeout(res, 5));
  const after = await store.get(sel);
  t.is(after.secret.versionId, 'v2', 'the refresh that outlived the stale answer filled the cache');
  t.is(source.calls, 2, 'one refresh, shared by every read while it ran');
  // A caller whose max_staleness the old value does not meet is never handed it: it waits for KMS.
  clock.advance(TTL.ttlMs + 1);
  const bounded = await store.get(sel, { maxStalenessMs: 5_000 });
  t.deepEqual([bounded.freshness.source, bounded.secret.versionId], ['KMS', 'v3']);
});

test('a slow refresh never answers STALE a value the shared tier no longer holds (an eviction this replica missed) [redis]', async (t) => {
  const env = await envs.get('redis')!;
  const clock = new Clock();
  const { source, started, release } = slowSecondCall();
  const kit = makeStore(t, env, source, { clock, config: { ...TTL, staleIfSlowMs: 20 } });
  const sel = { name: 'svc/evicted-elsewhere' };
  await kit.store.get(sel);
  await env.client!.del(kit.valueKeyOf(sel)); // another replica evicted it; its event never came
  clock.advance(TTL.ttlMs + 1);
  const read = kit.store.get(sel);
  await within(started, 'the refresh to reach the source');
  await new Promise((r) => setTimeout(r, 100)); // well past staleIfSlowMs
  t.is(kit.store.stats().staleIfSlowAnswers, 0, 'the value Redis no longer holds was not answered');
  release();
  const r = await read;
  t.deepEqual([r.freshness.source, r.secret.versionId], ['KMS', 'v2'], 'the read waited for KMS instead');
});

each('transient source failure with a value within max-stale → STALE; not when disabled or too old', async (t, env) => {
  for (const err of [new BackendUnavailableError('503 from KMS'), new ThrottledError('Rejected.Throttling')]) {
    const clock = new Clock();
    let fail = false;
    const source = new FakeSource({ respond: (sel, n) => (fail ? err : version(sel.name, `v${n}`, 'stale-ok')) });
    const { store } = makeStore(t, env, source, { clock, config: TTL });
    const sel = { name: `flaky/${err.name}` };
    const first = await store.get(sel);
    fail = true;
    clock.advance(TTL.ttlMs + 1);
    const r = await store.get(sel);
    t.is(r.freshness.source, 'STALE');
    t.is(r.secret.versionId, first.secret.versionId);
    t.is(r.freshness.checkedAtMs, first.freshness.checkedAtMs);
    // The caller's own max staleness still applies to a stale answer.
    await t.throwsAsync(store.get(sel, { maxStalenessMs: 1_000 }), { instanceOf: err.constructor as never });
    clock.advance(TTL.maxStaleMs);
    await t.throwsAsync(store.get(sel), { instanceOf: err.constructor as never });
  }
  const clock = new Clock();
  let fail = false;
  const source = new FakeSource({ respond: (sel, n) => (fail ? new BackendUnavailableError('503') : version(sel.name, `v${n}`, 'x')) });
  const { store } = makeStore(t, env, source, { clock, config: { ...TTL, serveStaleOnTransientError: false } });
  await store.get({ name: 'no-stale' });
  fail = true;
  clock.advance(TTL.ttlMs + 1);
  await t.throwsAsync(store.get({ name: 'no-stale' }), { instanceOf: BackendUnavailableError });
});

for (const [label, makeErr] of [
  ['NotFound', () => new SecretNotFoundError('gone')],
  ['AccessDenied', () => new AccessDeniedError('denied')],
] as const) {
  each(`${label}: fails closed, evicts L1 and L2 on every replica, and never serves stale afterwards`, async (t, env) => {
    const clock = new Clock();
    let mode: 'ok' | 'deny' | 'transient' = 'ok';
    const source = new FakeSource({
      respond: (sel, n) => (mode === 'ok' ? version(sel.name, `v${n}`, 'soon-evicted') : mode === 'deny' ? makeErr() : new BackendUnavailableError('503')),
    });
    const cfg = { ...TTL, negativeTtlMs: 0 };
    const a = makeStore(t, env, source, { clock, config: cfg });
    const b = makeStore(t, env, source, { clock, config: cfg, prefix: a.prefix, ring: a.ring });
    await b.store.ready();
    const sel = { name: `doomed/${label}` };
    await a.store.get(sel);
    t.is((await b.store.get(sel)).freshness.source, 'SHARED_CACHE');
    // (A's own first fill may still be on its way to B as a 'written' event: wait for the eviction.)
    const evicted = new Promise<CacheUpdate>((resolve) => b.store.subscribe(sel, (u) => u.type === 'evicted' && resolve(u)));
    t.not(await env.raw(a.valueKeyOf(sel)), null);

    mode = 'deny';
    await t.throwsAsync(a.store.refresh(sel), { instanceOf: makeErr().constructor as never });
    t.is(await env.raw(a.valueKeyOf(sel)), null, 'value gone from the shared tier');
    t.like(await within(evicted, 'eviction event'), { type: 'evicted', origin: 'remote', reason: label === 'NotFound' ? 'notFound' : 'accessDenied' });

    // Replica B's L1 was dropped by the event: it asks the source, which now fails transiently.
    mode = 'transient';
    await t.throwsAsync(b.store.get(sel), { instanceOf: BackendUnavailableError });
    clock.advance(TTL.ttlMs + 1);
    await t.throwsAsync(a.store.get(sel), { instanceOf: BackendUnavailableError });
  });
}

each('a replica that missed the eviction event still never answers stale once its L1 entry is due', async (t, env) => {
  const clock = new Clock();
  let mode: 'ok' | 'deny' | 'transient' = 'ok';
  const source = new FakeSource({
    respond: (sel, n) => (mode === 'ok' ? version(sel.name, `v${n}`, 'x') : mode === 'deny' ? new AccessDeniedError('denied') : new BackendUnavailableError('503')),
  });
  const cfg = { ...TTL, negativeTtlMs: 0 };
  const a = makeStore(t, env, source, { clock, config: cfg });
  const tier = env.tier(a.prefix);
  const deaf: SharedTier = Object.assign(Object.create(tier) as SharedTier, { subscribe: async () => {} });
  const b = new SecretStore({ source, tier: deaf, keyRing: a.ring, now: clock.now, config: { ...cfg, keyPrefix: a.prefix, refreshAheadRatio: 0 } });
  t.teardown(() => b.close());
  const sel = { name: 'revoked' };
  await a.store.get(sel);
  t.is((await b.get(sel)).freshness.source, 'SHARED_CACHE');
  mode = 'deny';
  await t.throwsAsync(a.store.refresh(sel), { instanceOf: AccessDeniedError });
  mode = 'transient';
  clock.advance(cfg.l1TtlMs);
  await t.throwsAsync(b.get(sel), { instanceOf: BackendUnavailableError });
});

each('negative caching: repeated reads of a missing secret within the negative TTL → 1 source call (across replicas)', async (t, env) => {
  const clock = new Clock();
  const source = new FakeSource({ latencyMs: 20, respond: () => new SecretNotFoundError('no such secret') });
  const a = makeStore(t, env, source, { clock, config: TTL });
  const b = makeStore(t, env, source, { clock, config: TTL, prefix: a.prefix, ring: a.ring });
  const sel = { name: 'typo/name' };
  const concurrent = await Promise.allSettled(Array.from({ length: 50 }, () => a.store.get(sel)));
  t.true(concurrent.every((r) => r.status === 'rejected' && r.reason instanceof SecretNotFoundError));
  for (let i = 0; i < 20; i++) {
    await t.throwsAsync(a.store.get(sel), { instanceOf: SecretNotFoundError });
    await t.throwsAsync(b.store.get(sel), { instanceOf: SecretNotFoundError });
  }
  t.is(source.calls, 1);
  t.not(await env.raw(a.negativeKeyOf(sel)), null);
  clock.advance(TTL.negativeTtlMs);
  await t.throwsAsync(a.store.get(sel), { instanceOf: SecretNotFoundError });
  t.is(source.calls, 2, 'asked again once the negative entry expired');
});

each('single-flight: concurrent cold reads in one process → 1 call; an aborted waiter does not cancel it', async (t, env) => {
  const source = new FakeSource({ latencyMs: 100 });
  const { store } = makeStore(t, env, source, { config: TTL });
  const sel = { name: 'hot/one' };
  const ac = new AbortController();
  const early = store.get(sel, { signal: ac.signal });
  const rest = Array.from({ length: 200 }, () => store.get(sel));
  await new Promise((r) => setTimeout(r, 20));
  ac.abort();
  await t.throwsAsync(early, { any: true, name: 'AbortError' });
  const results = await Promise.all(rest);
  t.is(source.calls, 1);
  t.is(source.aborted, 0);
  t.true(results.every((r) => r.secret.versionId === 'v1'));
  t.like(store.stats(), { inFlight: 0, waiters: 0, pendingFillWaiters: 0, heldLocks: 0 });
});

each('waiters per key are bounded', async (t, env) => {
  const source = new FakeSource({ latencyMs: 50 });
  const { store } = makeStore(t, env, source, { config: { ...TTL, maxWaitersPerKey: 5 } });
  const results = await Promise.allSettled(Array.from({ length: 8 }, () => store.get({ name: 'bounded' })));
  t.is(results.filter((r) => r.status === 'fulfilled').length, 5);
  t.true(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason instanceof ResourceExhaustedError));
});

each('subscribe: written events from this and other replicas; unsubscribe releases', async (t, env) => {
  const source = new FakeSource();
  const a = makeStore(t, env, source, { config: TTL });
  const b = makeStore(t, env, source, { config: TTL, prefix: a.prefix, ring: a.ring });
  await b.store.ready(); // subscribed to the shared tier's events
  const sel = { name: 'watched' };
  const seenA: CacheUpdate[] = [];
  const remote = new Promise<CacheUpdate>((resolve) => {
    const off = b.store.subscribe(sel, (u) => {
      off();
      resolve(u);
    });
  });
  const offA = a.store.subscribe(sel, (u) => seenA.push(u));
  await a.store.get(sel);
  t.like(seenA[0], { type: 'written', origin: 'local', versionId: 'v1', selector: sel });
  t.like(await within(remote, 'remote written event'), { type: 'written', origin: 'remote', versionId: 'v1', selector: sel });
  t.is(b.store.stats().subscriptions, 0);
  offA();
  t.is(a.store.stats().subscriptions, 0);
});

each('close(): pending reads end, nothing is left, further reads fail', async (t, env) => {
  const source = new FakeSource({ latencyMs: 5_000 });
  const { store } = makeStore(t, env, source, { config: TTL });
  const pending = store.get({ name: 'slow' });
  await new Promise((r) => setTimeout(r, 20));
  await store.close();
  await t.throwsAsync(pending);
  t.like(store.stats(), { inFlight: 0, waiters: 0, pendingFillWaiters: 0, heldLocks: 0, refreshTimers: 0, l1Size: 0 });
  t.is(source.aborted, 1, 'the source call was told to stop');
  await t.throwsAsync(store.get({ name: 'slow' }), { instanceOf: BackendUnavailableError });
});
