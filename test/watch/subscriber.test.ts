import test from 'ava';
import { SecretNotFoundError } from '../../src/errors';
import { CoalescingSubscriber } from '../../src/watch/subscriber';
import type { ReadResult } from '../../src/watch/reader';
import { version } from '../helpers/fakeReader';

const r = (v: string): ReadResult => ({ secret: version('db', v), freshness: { source: 'SHARED_CACHE', checkedAtMs: 1 } });

test('only the newest pending update is kept', async (t) => {
  const s = new CoalescingSubscriber();
  for (let i = 1; i <= 1000; i++) s.push(r(`v${i}`));
  const signal = new AbortController().signal;
  t.is((await s.next(signal, 10))?.secret.versionId, 'v1000');
  t.is(await s.next(signal, 10), undefined, 'nothing else was queued');
});

test('next() waits for a push, and times out with undefined', async (t) => {
  const s = new CoalescingSubscriber();
  const signal = new AbortController().signal;
  const p = s.next(signal, 5000);
  setTimeout(() => s.push(r('v2')), 20);
  t.is((await p)?.secret.versionId, 'v2');
  t.is(await s.next(signal, 20), undefined);
});

test('end() wins over a pending update; abort rejects with the reason', async (t) => {
  const s = new CoalescingSubscriber();
  s.push(r('v2'));
  s.end(new SecretNotFoundError('gone'));
  await t.throwsAsync(s.next(new AbortController().signal, 10), { instanceOf: SecretNotFoundError });
  const s2 = new CoalescingSubscriber();
  const ac = new AbortController();
  const p = s2.next(ac.signal, 5000);
  ac.abort(new Error('bye'));
  await t.throwsAsync(p, { message: 'bye' });
});
