/** High-water marks: rollbacks by replay are refused; honest rotations, reverts and skew are not. */
import test from 'ava';
import { HighWaterMarks } from '../../src/cache/highWater';

test('another version older than the mark is refused; a rotation (newer CreateTime) and a KMS revert (newer check) are admitted', (t) => {
  const m = new HighWaterMarks(100, 1000);
  m.saw('k', 'v1', 10_000, 1_000);
  m.saw('k', 'v2', 20_000, 15_000); // rotation
  t.false(m.admits('k', 'v1', 10_000, 1_000), 'the replayed v1 envelope');
  t.true(m.admits('k', 'v2', 19_000, 15_000), 'the same version, checked a little earlier');
  t.true(m.admits('k', 'v3', 19_500, 19_000), 'a newer version from a replica whose clock is 500 ms behind');
  t.true(m.admits('k', 'v1', 30_000, 1_000), 'KMS moved the stage back to v1 (checked after the mark)');
});

test('after a revert in KMS, the replayed envelope of the reverted-away version is refused, and the honest entry still is admitted', (t) => {
  const m = new HighWaterMarks(100, 1000);
  m.saw('k', 'v2', 20_000, 15_000);
  m.saw('k', 'v1', 60_000, 1_000); // revert: ACSCurrent back on v1
  t.false(m.admits('k', 'v2', 20_000, 15_000), 'v2 checked long before the revert, newer CreateTime or not');
  m.saw('k', 'v2', 20_000, 15_000); // and a replay cannot move the mark back either
  t.true(m.admits('k', 'v1', 60_000, 1_000));
});

test('evictions and negative entries: nothing from before an eviction, no NotFound older than the newest version seen; no marks for unseen keys', (t) => {
  const m = new HighWaterMarks(100, 1000);
  m.saw('k', 'v1', 10_000);
  m.evicted('k', 20_000);
  t.false(m.admits('k', 'v1', 10_000));
  t.true(m.admits('k', 'v1', 25_000));
  t.false(m.admitsNegative('k', 5_000));
  t.true(m.admitsNegative('k', 12_000));
  m.evicted('never-seen', 1);
  t.is(m.size, 1, 'NotFound reads of random names do not fill the marks');
});
