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
  const k = new KeyState(sel, { reader, log: silentLogger, closed: closed.signal, readTimeoutMs: 5000 });
  const sub = new CoalescingSubscriber();
  k.subscribers.add(sub);
  return { k, sub, close: () => closed.abort() };
}

test('updates and reads that arrive out of order never take the stream back to an older version', async (t) => {
  const { reader, pending } = gatedReader();
  const { k, sub, close } = keyState(reader);
  t.teardown(close);
  const signal = new AbortController().signal;
  const first = k.initial(signal);
  await eventually(() => pending.length === 1);
  pending[0]!(result('v1', 100));
  t.is((await first).secret.versionId, 'v1');
  t.is((await sub.next(signal, 10))?.secret.versionId, 'v1');

  // The feed says v3 (checked at 300); the catch-up read starts. The update for v2 (checked at
  // 200) arrives late: it is older news and starts nothing.
  k.onWritten({ versionId: 'v3', checkedAtMs: 300 });
  await eventually(() => pending.length === 2);
  // The read answers v2 (the shared tier not yet written): older than the update, not applied.
  pending[1]!(result('v2', 200));
  await delay(20);
  t.is(await sub.next(signal, 10), undefined, 'v2 was not delivered');
  k.onWritten({ versionId: 'v2', checkedAtMs: 200 });
  await delay(20);
  t.is(pending.length, 2, 'a late update for an older version starts no read');
  k.onWritten({ versionId: 'v3', checkedAtMs: 310 });
  await eventually(() => pending.length === 3);
  pending[2]!(result('v3', 310));
  t.is((await sub.next(signal, 2000))?.secret.versionId, 'v3');
  k.onWritten({ versionId: 'v2', checkedAtMs: 250 });
  await delay(20);
  t.is(pending.length, 3, 'nothing older than v3 is read again');
  t.is(await sub.next(signal, 10), undefined);
  t.is(k.freshness()?.checkedAtMs, 310);
});

test('a replica whose L1 held the old version catches up with one plain read, never from KMS', async (t) => {
  const fake = new FakeReader();
  fake.set(version('db', 'v1'));
  const here = fake.withL1(60_000);
  const { k, sub, close } = keyState(here);
  t.teardown(close);
  here.subscribe(sel, (u) => u.type === 'written' && k.onWritten(u));
  const signal = new AbortController().signal;
  await k.initial(signal);
  await sub.next(signal, 10);
  // Another replica confirms v2 and writes the shared tier; the feed drops this replica's L1 entry.
  await delay(30);
  fake.rotate('db', 'v2');
  await fake.withL1(60_000).get(sel, { maxStalenessMs: 0 });
  t.is((await sub.next(signal, 2000))?.secret.versionId, 'v2');
  t.is(fake.forceCalls(), 1, 'only the poller forced a KMS read');
  const catchUp = fake.calls.slice(2);
  t.is(catchUp.length, 1);
  t.is(catchUp[0]!.maxStalenessMs, undefined, 'a plain read');
});
