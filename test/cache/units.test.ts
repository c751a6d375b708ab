/**
 * The small parts on their own: L1 bound, single-flight ranks and bounds, breaker, fill waiters,
 * config validation, entry timing (jitter, refresh-ahead, rotation), event encoding.
 */
import test from 'ava';
import { ConfigError, ResourceExhaustedError } from '../../src/errors';
import { Breaker, SharedTierUnavailableError, resolveCacheConfig } from '../../src/cache';
import { DEFAULT_CACHE_CONFIG } from '../../src/cache/config';
import { makeEntry } from '../../src/cache/entry';
import { decodeEvent, encodeEvent } from '../../src/cache/events';
import { FillWaiters } from '../../src/cache/fillWaiters';
import { L1 } from '../../src/cache/l1';
import { SingleFlight } from '../../src/cache/singleFlight';
import { version } from '../helpers/fakeSource';
import { Clock } from './harness';
import type { KmsPool } from '../../src/kms/pool';
import type { RequestBudget } from '../../src/kms/budget';
import type { RedisTokenBucket, SecretSource } from '../../src/cache';

// Compile-time: the KMS pool is a SecretSource and the Redis bucket is a RequestBudget (structurally).
type PoolIsASource = KmsPool extends SecretSource ? true : never;
type RedisBucketIsABudget = RedisTokenBucket extends RequestBudget ? true : never;
const _typesFit: [PoolIsASource, RedisBucketIsABudget] = [true, true];
void _typesFit;

test('L1 never holds more than its max, and its tag index shrinks with it', (t) => {
  const l1 = new L1(50, 1000);
  const now = Date.now();
  for (let i = 0; i < 1000; i++) {
    l1.setValue(`k${i}`, `tag${i}`, makeEntry(version(`s${i}`, 'v1', 'x'), now, DEFAULT_CACHE_CONFIG), now);
    t.true(l1.size <= 50);
  }
  t.is(l1.size, 50);
  t.is(l1.keyOfTag('tag0'), undefined, 'evicted entries leave the tag index');
  t.is(l1.keyOfTag('tag999'), 'k999');
  t.is(l1.deleteByTag('tag999'), 'k999');
  t.is(l1.get('k999', now), undefined);
  l1.clear();
  t.is(l1.size, 0);
});

test('L1 keeps an entry for stale answers past its L1 TTL, and drops it at its stale limit', (t) => {
  const l1 = new L1(10, 100);
  const cfg = { ...DEFAULT_CACHE_CONFIG, ttlMs: 1000, ttlJitterRatio: 0, maxStaleMs: 5000 };
  l1.setValue('k', 'tag', makeEntry(version('s', 'v1', 'x'), 0, cfg), 0);
  t.is(l1.get('k', 50)?.l1ExpiresAtMs, 100);
  t.truthy(l1.get('k', 5999));
  t.is(l1.get('k', 6000), undefined);
});

test('single-flight: one run per key; stricter callers wait and share the next run; bounds hold', async (t) => {
  const sf = new SingleFlight<number>({ maxWaitersPerKey: 4, maxFlights: 2 });
  let runs = 0;
  const gate: (() => void)[] = [];
  const fn = async (_s: AbortSignal, rank: number) => {
    runs++;
    await new Promise<void>((r) => gate.push(r));
    return rank;
  };
  const a = sf.do('k', 0, fn);
  const b = sf.do('k', 0, fn);
  const c = sf.do('k', 5, fn, { accept: (r) => r >= 5 });
  const d = sf.do('k', 7, fn, { accept: (r) => r >= 7 });
  await t.throwsAsync(sf.do('k', 0, fn), { instanceOf: ResourceExhaustedError }, 'waiters per key');
  const other = sf.do('k2', 0, fn);
  await t.throwsAsync(sf.do('k3', 0, fn), { instanceOf: ResourceExhaustedError }, 'flights');
  await new Promise((r) => setImmediate(r));
  gate.splice(0).forEach((g) => g());
  t.deepEqual(await Promise.all([a, b, other]), [0, 0, 0]);
  await new Promise((r) => setImmediate(r));
  t.is(sf.inFlight, 1, 'one follow-up run at the strictest wanted rank');
  gate.splice(0).forEach((g) => g());
  t.deepEqual(await Promise.all([c, d]), [7, 7]);
  t.is(runs, 3);
  t.is(sf.inFlight, 0);
  t.is(sf.waiters, 0);
});

test('single-flight: when the last waiter leaves, the run is told (its signal aborts) and new callers start afresh', async (t) => {
  const sf = new SingleFlight<string>({ maxWaitersPerKey: 10, maxFlights: 10 });
  let seen: AbortSignal | undefined;
  const ac = new AbortController();
  const p = sf.do('k', 0, (s) => ((seen = s), new Promise<string>(() => {})), { signal: ac.signal });
  await new Promise((r) => setImmediate(r));
  ac.abort();
  await t.throwsAsync(p, { any: true, name: 'AbortError' });
  t.true(seen!.aborted);
  t.is(sf.inFlight, 0);
  t.is(await sf.do('k', 0, async () => 'fresh'), 'fresh');
});

test('breaker: opens after N failures, fails fast, probes once after openMs, closes on success', async (t) => {
  const clock = new Clock();
  const states: string[] = [];
  const b = new Breaker({ failureThreshold: 2, openMs: 1000, now: clock.now, onStateChange: (s) => states.push(s) });
  const boom = () => Promise.reject(new Error('ECONNREFUSED'));
  let calls = 0;
  const ok = async () => (calls++, 'ok');
  await t.throwsAsync(b.run(boom), { instanceOf: SharedTierUnavailableError });
  t.is(b.state, 'closed');
  await t.throwsAsync(b.run(boom));
  t.is(b.state, 'open');
  await t.throwsAsync(b.run(ok), { message: /circuit open/ });
  t.is(calls, 0);
  clock.advance(1000);
  t.is(b.state, 'half-open');
  await t.throwsAsync(b.run(boom));
  t.is(b.state, 'open', 'a failed probe reopens at once');
  clock.advance(1000);
  t.is(await b.run(ok), 'ok');
  t.is(b.state, 'closed');
  t.deepEqual(states, ['open', 'closed']);
});

test('breaker.runPatient: a reply that timed out is asked for once more; other failures, and a second timeout, are not', async (t) => {
  const b = new Breaker({ failureThreshold: 5, openMs: 1000 });
  let calls = 0;
  const lateOnce = async () => (++calls === 1 ? Promise.reject(new Error('Command timed out')) : 'ok');
  t.is(await b.runPatient(lateOnce), 'ok');
  t.is(calls, 2);
  calls = 0;
  await t.throwsAsync(b.runPatient(async () => (calls++, Promise.reject(new Error('ECONNREFUSED')))), { instanceOf: SharedTierUnavailableError });
  t.is(calls, 1, 'a refused connection is not retried');
  calls = 0;
  await t.throwsAsync(b.runPatient(async () => (calls++, Promise.reject(new Error('Command timed out')))), { instanceOf: SharedTierUnavailableError });
  t.is(calls, 2, 'a hung Redis costs two timeouts, not more');
});

test('fill waiters: notify wakes, timeout wakes, abort wakes; the registry is bounded and empties', async (t) => {
  const w = new FillWaiters(2);
  const a = w.wait('t', 10_000);
  const b = w.wait('t', 10_000);
  const c = w.wait('t', 30); // over the bound: sleeps out its poll interval, unregistered
  t.is(w.pending, 2);
  w.notify('t');
  t.deepEqual(await Promise.all([a, b, c]), ['notified', 'notified', 'timeout']);
  const ac = new AbortController();
  const d = w.wait('u', 10_000, ac.signal);
  ac.abort();
  t.is(await d, 'aborted');
  const e = w.wait('v', 10_000);
  w.close();
  t.is(await e, 'aborted');
  t.is(w.pending, 0);
});

test('config: defaults, and range errors that name the setting', (t) => {
  t.deepEqual(resolveCacheConfig(), { ...DEFAULT_CACHE_CONFIG });
  t.throws(() => resolveCacheConfig({ ttlJitterRatio: 0.9 }), { instanceOf: ConfigError, message: 'cache.ttlJitterRatio: must be a number 0–0.5' });
  t.throws(() => resolveCacheConfig({ l1MaxEntries: 0 }), { message: /^cache.l1MaxEntries/ });
  t.throws(() => resolveCacheConfig({ keyPrefix: 'a{b}' }), { message: /^cache.keyPrefix/ });
});

test('entry timing: jittered TTL, refresh-ahead fraction, and a check just after a rotation inside the TTL', (t) => {
  const cfg = { ...DEFAULT_CACHE_CONFIG, ttlMs: 1000, ttlJitterRatio: 0.2, refreshAheadRatio: 0.5, rotationCheckDelayMs: 10 };
  const lo = makeEntry(version('s', 'v', 'x'), 0, cfg, () => 0.999);
  const hi = makeEntry(version('s', 'v', 'x'), 0, cfg, () => 0);
  t.is(hi.freshUntilMs, 1000);
  t.is(lo.freshUntilMs, 800);
  t.is(hi.refreshAtMs, 500);
  t.is(hi.staleUntilMs, 1000 + cfg.maxStaleMs);
  const rot = makeEntry(version('s', 'v', 'x', { nextRotationTimeMs: 300 }), 0, cfg, () => 0);
  t.is(rot.refreshAtMs, 310);
  const noAhead = makeEntry(version('s', 'v', 'x', { nextRotationTimeMs: 300 }), 0, { ...cfg, refreshAheadRatio: 0 }, () => 0);
  t.deepEqual([noAhead.refreshAtMs, noAhead.freshUntilMs], [Infinity, 310]);
  const past = makeEntry(version('s', 'v', 'x', { nextRotationTimeMs: -100 }), 0, cfg, () => 0);
  t.is(past.refreshAtMs, 500, 'an overdue rotation does not cause a refresh loop');
});

test('events: round trip, and anything unknown, or a time past the horizon, is ignored', (t) => {
  const w = { type: 'written' as const, tag: 'abc', versionId: 'v|1', checkedAtMs: 5, origin: 'me' };
  t.deepEqual(decodeEvent(encodeEvent(w), 10), w);
  const e = { type: 'evicted' as const, tag: 'abc', reason: 'accessDenied' as const, origin: 'me' };
  t.deepEqual(decodeEvent(encodeEvent(e), 10), e);
  const c = { ...w, createTimeMs: 3 };
  t.deepEqual(decodeEvent(encodeEvent(c), 10), c);
  for (const junk of ['', 'x|y', 'f|a|b|notanumber|o|', 'e|a|whatever|o', 'f|a|b|8e15|o|', 'f|a|b|1e16|o|', 'f|a|b|-1|o|', 'f|a|b|11|o|', 'f|a|b|5|o|1e16']) t.is(decodeEvent(junk, 10), null, junk);
});
