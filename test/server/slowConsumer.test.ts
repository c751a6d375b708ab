import test from 'ava';
import { FakeReader, version } from '../helpers/fakeReader';
import { delay, eventually, openWatch, startTestGateway } from '../helpers/watchGateway';

const BIG = 64 * 1024;
const bigValue = (i: number) => ({ value: { kind: 'string' as const, text: String(i).padEnd(BIG, '.') } });

test('a paused client costs bounded server memory and gets only the newest version on resume', async (t) => {
  const reader = new FakeReader();
  reader.set(version('db', 'v0', bigValue(0)));
  // Poll every 10 ms so the server sees far more versions than a paused client can take.
  const gw = await startTestGateway(t, { reader, hub: { pollIntervalMs: 10, jitter: 0 }, service: { heartbeatMs: 60_000 } });
  const w = openWatch(t, gw.client, { name: 'db' });
  await w.nextSecret('v0');
  w.call.pause();

  let rotations = 0;
  const seen = new Set<string>();
  const stopAt = Date.now() + 1500;
  while (Date.now() < stopAt) {
    rotations++;
    reader.rotate('db', `v${rotations}`, bigValue(rotations));
    await delay(12);
  }
  const newest = `v${rotations}`;
  // The server has observed (most of) these versions while the client stayed paused.
  await eventually(() => reader.forceCalls() > rotations / 2, 3000, 'the poller to see the rotations');
  await delay(100);

  w.call.resume();
  await w.nextSecret(newest, 5000);
  const secrets = w.messages.filter((m) => m.secret).map((m) => m.secret!.versionId);
  for (const v of secrets) {
    t.false(seen.has(v), `version ${v} delivered once`);
    seen.add(v);
  }
  // Without coalescing the server would have queued one message per observed rotation; with it,
  // the stream holds grpc-js's buffer (16) plus what HTTP/2 had in flight, plus one pending slot.
  t.log(`sent ${secrets.length} of ${rotations}`);
  t.true(secrets.length < 48, `only ${secrets.length} of ${rotations} versions were sent`);
  t.true(rotations > 80, `enough rotations to matter (${rotations})`);
  t.is(secrets.at(-1), newest, 'the last message is the newest version');
});
