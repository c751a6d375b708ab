import test from 'ava';
import { KeyState } from '../../src/watch/keyState';
import { CoalescingSubscriber } from '../../src/watch/subscriber';
import type { ReadResult, SecretReader } from '../../src/watch/reader';
import { silentLogger } from '../../src/telemetry/logger';
import { FakeReader, version } from '../helpers/fakeReader';
import { delay, eventually } from '../helpers/watchGateway';

const result = (v: string, checkedAtMs: number): ReadResult => ({ secret: version('db', v), freshness: { source: 'SHARED_CACHE', checkedAtMs } });
const sel = { name: 'db', versionStage: 'ACSCurrent' };

/** A reader whose answers the test releases by hand. */
function gatedReader() {
  const pending: ((r: ReadResult) => void)[] = [];
  const reader: SecretReader = { get: () => new Promise((resolve) => pending.push(resolve)) };
  return { reader, pending };
}

function keyState(reader: SecretReader) {
  const closed = new AbortController();
  const k = new KeyState(sel, 'tag', { reader, log: silentLogger, closed: closed.signal, readTimeoutMs: 5000 });
  const sub = new CoalescingSubscriber();
  k.subscribers.add(sub);
  return { k, sub, close: () => closed.abort() };
}

test('a cache read in flight when a poll lands never takes the stream back to an older version', async (t) => {
  const { reader, pending } = gatedReader();
  const { k, sub, close } = keyState(reader);
  t.teardown(close);
  const signal = new AbortController().signal;
  const first = k.initial(signal);
  await eventually(() => pending.length === 1);
  pending[0]!(result('v1', 100));
  t.is((await first).secret.versionId, 'v1');
  t.is((await sub.next(signal, 10))?.secret.versionId, 'v1');

  // Another replica polled v2: a catch-up read starts; meanwhile this replica's own poll sees v3.
  k.onChecked({ versionId: 'v2', checkedAtMs: 200 });
  await eventually(() => pending.length === 2);
  k.acceptPolled(result('v3', 300));
  pending[1]!(result('v2', 200));
  await delay(20);
  t.is((await sub.next(signal, 10))?.secret.versionId, 'v3');
  t.is(await sub.next(signal, 10), undefined, 'v2 was not delivered after v3');
  t.is(k.freshness()?.checkedAtMs, 300);
});

test('a replica whose L1 still holds the old version catches up from the shared tier, never from KMS', async (t) => {
  const fake = new FakeReader();
  fake.set(version('db', 'v1'));
  const l1 = fake.withL1(60_000);
  const { k, sub, close } = keyState(l1);
  t.teardown(close);
  const signal = new AbortController().signal;
  await k.initial(signal);
  await sub.next(signal, 10);
  // The poller (elsewhere) confirms v2 a little later and writes the shared tier.
  await delay(30);
  fake.rotate('db', 'v2');
  const polled = await fake.get(sel, { maxStalenessMs: 0 });
  k.onChecked({ versionId: 'v2', checkedAtMs: polled.freshness.checkedAtMs });
  t.is((await sub.next(signal, 2000))?.secret.versionId, 'v2');
  t.is(fake.forceCalls(), 1, 'only the poller forced a KMS read');
  const catchUp = fake.calls.slice(2);
  t.is(catchUp[0]!.maxStalenessMs, undefined, 'first a plain read (L1 answered v1)');
  t.true(catchUp[1]!.maxStalenessMs! > 0, 'then a bounded read that skips the stale L1');
});
