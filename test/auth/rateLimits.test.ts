import test from 'ava';
import { CallerLimits, type CallerLimitsOptions } from '../../src/auth/rateLimits';
import { ResourceExhaustedError } from '../../src/errors';

/** A clock the test moves by hand: no assertion here depends on how long anything takes. */
function fakeClock(start = 1_000_000) {
  const c = { t: start, now: () => c.t, advance: (ms: number) => void (c.t += ms) };
  return c;
}

function limits(clock: { now: () => number }, over: Partial<CallerLimitsOptions> = {}): CallerLimits {
  return new CallerLimits({
    getSecret: { ratePerSec: 10, burst: 5 },
    missReads: { ratePerSec: 2, burst: 2 },
    streamOpens: { ratePerSec: 1, burst: 3 },
    unauthenticated: { ratePerSec: 1, burst: 4 },
    maxCallers: 1000,
    now: clock.now,
    ...over,
  });
}

/** The ResourceExhaustedError `fn` throws. */
function exhausted(t: import('ava').ExecutionContext, fn: () => void): ResourceExhaustedError {
  return t.throws(fn, { instanceOf: ResourceExhaustedError })!;
}

/** How many takes succeed in a row before the first refusal (bounded, so a bug cannot hang). */
function takesUntilRefused(fn: () => void, max = 10_000): number {
  for (let n = 0; n < max; n++) {
    try {
      fn();
    } catch (err) {
      if (err instanceof ResourceExhaustedError) return n;
      throw err;
    }
  }
  return max;
}

test('GetSecret: the burst, then one token per interval, with exact retryAfterMs', (t) => {
  const clock = fakeClock();
  const l = limits(clock);
  t.is(takesUntilRefused(() => l.takeGetSecret('a')), 5);
  const e = exhausted(t, () => l.takeGetSecret('a'));
  t.is(e.retryAfterMs, 100); // 10/s: the next token in 100 ms
  t.is(e.message, 'per-caller GetSecret rate limit reached');
  clock.advance(40);
  t.is(exhausted(t, () => l.takeGetSecret('a')).retryAfterMs, 60);
  clock.advance(60);
  l.takeGetSecret('a');
  t.is(exhausted(t, () => l.takeGetSecret('a')).retryAfterMs, 100);
  clock.advance(250); // 2.5 tokens: two calls, then 50 ms to the third
  t.is(takesUntilRefused(() => l.takeGetSecret('a')), 2);
  t.is(exhausted(t, () => l.takeGetSecret('a')).retryAfterMs, 50);
  clock.advance(10_000); // refills to the burst, never beyond
  t.is(takesUntilRefused(() => l.takeGetSecret('a')), 5);
});

test('retryAfterMs is an integer ≥ 1, rounded up, for rates that do not divide a second', (t) => {
  const clock = fakeClock();
  const l = limits(clock, { getSecret: { ratePerSec: 3, burst: 1 } });
  l.takeGetSecret('a');
  t.is(exhausted(t, () => l.takeGetSecret('a')).retryAfterMs, 334); // 333.3… ms
  clock.advance(333);
  t.is(exhausted(t, () => l.takeGetSecret('a')).retryAfterMs, 1); // 0.3 ms left still says 1
  clock.advance(1);
  t.notThrows(() => l.takeGetSecret('a'));
});

test('sums of fractional intervals cost no spurious 1 ms retry at an exact boundary', (t) => {
  // 3/s, burst 3: after takes at 0, 0, 0, 334 and 667 ms the bucket is due again at exactly 1000 ms
  // (five intervals of 1000/3 ms, less two of tolerance), which float sums land on only within ε.
  const clock = fakeClock(1_000_000);
  const l = limits(clock, { getSecret: { ratePerSec: 3, burst: 3 } });
  t.is(takesUntilRefused(() => l.takeGetSecret('a')), 3);
  clock.advance(334);
  l.takeGetSecret('a');
  clock.advance(333);
  l.takeGetSecret('a');
  clock.advance(332);
  t.is(exhausted(t, () => l.takeGetSecret('a')).retryAfterMs, 1);
  clock.advance(1);
  t.notThrows(() => l.takeGetSecret('a'));
});

test('callers and buckets are independent: one caller exhausted leaves others and other buckets alone', (t) => {
  const clock = fakeClock();
  const l = limits(clock);
  t.is(takesUntilRefused(() => l.takeGetSecret('a')), 5);
  t.is(takesUntilRefused(() => l.takeGetSecret('b')), 5);
  t.is(takesUntilRefused(() => l.takeStreamOpen('a')), 3);
  t.is(takesUntilRefused(() => l.takeMiss('a')), 2);
  const open = exhausted(t, () => l.takeStreamOpen('a'));
  t.is(open.retryAfterMs, 1000);
  t.is(open.message, 'per-caller WatchSecret open rate limit reached');
  t.is(takesUntilRefused(() => l.takeStreamOpen('c')), 3);
});

test('the miss bucket is separate and smaller; peekMiss looks without taking or tracking', (t) => {
  const clock = fakeClock();
  const l = limits(clock);
  t.true(l.peekMiss('new'));
  t.is(l.counts().callers, 0, 'peeking tracks nobody');
  // A caller that misses on every read: GetSecret allows 5, the miss bucket only 2.
  let served = 0;
  let kmsCalls = 0;
  let missRefused: ResourceExhaustedError | undefined;
  for (let i = 0; i < 5; i++) {
    l.takeGetSecret('noisy');
    try {
      l.takeMiss('noisy');
      kmsCalls++;
      served++;
    } catch (err) {
      missRefused = err as ResourceExhaustedError;
    }
  }
  t.is(kmsCalls, 2);
  t.is(served, 2);
  t.is(missRefused?.message, 'per-caller cache-miss rate limit reached');
  t.is(missRefused?.retryAfterMs, 500);
  t.false(l.peekMiss('noisy'));
  t.false(l.peekMiss('noisy'), 'peeking twice takes nothing');
  t.true(l.peekMiss('quiet'));
  clock.advance(500);
  t.true(l.peekMiss('noisy'));
  t.true(l.peekMiss('noisy'));
  l.takeMiss('noisy');
  t.false(l.peekMiss('noisy'));
});

test('a refused take costs no token', (t) => {
  const clock = fakeClock();
  const l = limits(clock, { getSecret: { ratePerSec: 10, burst: 1 } });
  l.takeGetSecret('a');
  for (let i = 0; i < 100; i++) t.throws(() => l.takeGetSecret('a'));
  clock.advance(100);
  t.notThrows(() => l.takeGetSecret('a'));
});

test('maxCallers bounds the tracked callers under 200k distinct callers', (t) => {
  const clock = fakeClock();
  const l = limits(clock, { maxCallers: 1000 });
  let peak = 0;
  for (let i = 0; i < 200_000; i++) {
    l.takeGetSecret(`peer:10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    if (i % 97 === 0) peak = Math.max(peak, l.counts().callers);
  }
  peak = Math.max(peak, l.counts().callers);
  t.true(peak <= 1000, `peak ${peak}`);
  t.is(l.counts().callers, 1000);
});

test('idle callers whose buckets are full again are dropped, and come back full', (t) => {
  const clock = fakeClock();
  const l = limits(clock);
  for (let i = 0; i < 50; i++) l.takeGetSecret(`c${i}`);
  t.is(l.counts().callers, 50);
  clock.advance(100); // one GetSecret token back: every bucket is full again
  // Each call drops up to two idle callers: 25 calls drop all 50, and the 30 new ones are not idle yet.
  for (let i = 0; i < 30; i++) l.takeGetSecret(`n${i}`);
  t.is(l.counts().callers, 30);
  // A dropped caller starts full again: the same answers as if it had been kept.
  t.is(takesUntilRefused(() => l.takeGetSecret('c0')), 5);
});

test('the caller being served and the last one left are never dropped as idle (no churn of a lone caller)', (t) => {
  const clock = fakeClock();
  const l = limits(clock);
  for (let i = 0; i < 10; i++) {
    clock.advance(1000); // every bucket full again before each call
    l.takeGetSecret(i % 2 === 0 ? 'a' : 'b');
    t.is(l.counts().callers, i === 0 ? 1 : 2);
  }
  t.is(takesUntilRefused(() => l.takeGetSecret('a')), 5, 'kept buckets answer as if dropped and re-created');
});

test('a caller not yet idle is kept while idle ones are dropped', (t) => {
  const clock = fakeClock();
  const l = limits(clock);
  t.is(takesUntilRefused(() => l.takeMiss('spender')), 2); // refills only after 1000 ms
  clock.advance(400);
  l.takeGetSecret('other');
  l.takeGetSecret('other');
  t.is(l.counts().callers, 2, 'the spender is kept: its miss bucket is not full yet');
  t.false(l.peekMiss('spender'));
  t.is(exhausted(t, () => l.takeMiss('spender')).retryAfterMs, 100); // 2/s: its next token is due at 500 ms
});

test('invalid options are refused with the option named', (t) => {
  const clock = fakeClock();
  t.throws(() => limits(clock, { missReads: { ratePerSec: 0, burst: 1 } }), { message: /missReads\.ratePerSec/ });
  t.throws(() => limits(clock, { getSecret: { ratePerSec: 1, burst: 0.5 } }), { message: /getSecret\.burst/ });
  t.throws(() => limits(clock, { maxCallers: 0 }), { message: /maxCallers/ });
});

test('failed authentications are limited per peer address, in a key no identity shares', (t) => {
  const clock = fakeClock();
  const l = limits(clock);
  t.is(takesUntilRefused(() => l.takeUnauthenticated('peer:10.0.0.1')), 4);
  t.is(exhausted(t, () => l.takeUnauthenticated('peer:10.0.0.1')).message, 'too many calls that failed authentication from this address');
  t.is(takesUntilRefused(() => l.takeUnauthenticated('peer:10.0.0.2')), 4, 'another address has its own bucket');
  l.takeGetSecret('peer:10.0.0.1'); // the same key's other buckets are untouched
  clock.advance(1000);
  l.takeUnauthenticated('peer:10.0.0.1');
  t.pass();
});
