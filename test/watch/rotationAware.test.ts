import test from 'ava';
import { FakeReader, version } from '../helpers/fakeReader';
import { openWatch, startTestGateway } from '../helpers/watchGateway';

test('a rotation at NextRotationDate is picked up just after it, not a poll interval later', async (t) => {
  const reader = new FakeReader();
  const rotationAt = Date.now() + 600;
  reader.set(version('db', 'v1', { automaticRotation: true, nextRotationTimeMs: rotationAt }));
  // A one-minute cadence: only the rotation-aware schedule can deliver v2 within the test.
  const gw = await startTestGateway(t, { reader, hub: { pollIntervalMs: 60_000, jitter: 0, rotationDelayMs: 50, leaseMs: 300 } });
  const w = openWatch(t, gw.client, { name: 'db' });
  await w.nextSecret('v1');
  setTimeout(() => reader.rotate('db', 'v2', { automaticRotation: true, nextRotationTimeMs: rotationAt + 86_400_000 }), rotationAt - Date.now());
  const m = await w.nextSecret('v2', 5000);
  t.is(m.secret!.nextRotationTime!.getTime(), rotationAt + 86_400_000);
  const polls = reader.forceCallList('db');
  t.true(polls.length >= 1);
  t.true(polls[0]!.atMs >= rotationAt, 'the first poll waited for the rotation time');
});
