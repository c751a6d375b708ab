import test from 'ava';
import { nextPollDelayMs } from '../../src/watch/schedule';

const cadence = { intervalMs: 60_000, jitter: 0.1, rotationDelayMs: 5_000 };
const now = 1_000_000;

test('the base cadence is the interval shortened by at most the jitter fraction', (t) => {
  t.is(nextPollDelayMs(now, cadence, undefined, () => 0), 60_000);
  t.is(nextPollDelayMs(now, cadence, undefined, () => 0.999999), 54_000);
  t.is(nextPollDelayMs(now, { ...cadence, jitter: 0 }, undefined, () => 0.5), 60_000);
});

test('a rotation due before the next poll is checked rotationDelayMs after it', (t) => {
  t.is(nextPollDelayMs(now, cadence, now + 10_000, () => 0), 15_000);
  t.is(nextPollDelayMs(now, cadence, now + 120_000, () => 0), 60_000, 'a far rotation does not change the cadence');
});

test('an overdue rotation is re-checked every rotationDelayMs for at most one interval', (t) => {
  t.is(nextPollDelayMs(now, cadence, now - 1_000, () => 0), 4_000, 'first check still rotationDelayMs after the due time');
  t.is(nextPollDelayMs(now, cadence, now - 6_000, () => 0), 5_000);
  t.is(nextPollDelayMs(now, cadence, now - 59_000, () => 0), 5_000);
  t.is(nextPollDelayMs(now, cadence, now - 61_000, () => 0), 60_000, 'a stale NextRotationDate cannot cause a poll storm');
});

test('the delay is always at least 1 ms', (t) => {
  t.is(nextPollDelayMs(now, { ...cadence, rotationDelayMs: 0 }, now - 1, () => 0), 1);
  t.true(nextPollDelayMs(now, cadence, Number.NaN, () => 0) === 60_000);
});
