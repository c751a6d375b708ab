import test from 'ava';
import { status } from '@grpc/grpc-js';
import { AccessDeniedError, BackendUnavailableError, SecretNotFoundError } from '../../src/errors';
import { Freshness_Source } from '../../src/gen/secretsgateway/v1/secrets_gateway';
import { FakeReader, version } from '../helpers/fakeReader';
import { delay, eventually, openWatch, startTestGateway } from '../helpers/watchGateway';

function readerWith(name = 'db', versionId = 'v1'): FakeReader {
  const r = new FakeReader();
  r.set(version(name, versionId));
  return r;
}

test('the first message is the current Secret, sent at once', async (t) => {
  const reader = readerWith();
  // Long cadences: anything that arrives now is the initial message, not a poll or a heartbeat.
  const gw = await startTestGateway(t, { reader, hub: { pollIntervalMs: 60_000 }, service: { heartbeatMs: 60_000 } });
  const w = openWatch(t, gw.client, { name: 'db' });
  const m = await w.next(2000);
  t.is(m.secret?.versionId, 'v1');
  t.is(m.secret?.stringValue, 'value-of-v1');
  t.is(m.heartbeat, undefined);
  t.truthy(m.freshness?.checkedAt);
  t.not(m.freshness?.source, Freshness_Source.SOURCE_UNSPECIFIED);
});

test('the first message is a Heartbeat when last_version_id is current', async (t) => {
  const gw = await startTestGateway(t, { reader: readerWith(), hub: { pollIntervalMs: 60_000 }, service: { heartbeatMs: 60_000 } });
  const w = openWatch(t, gw.client, { name: 'db', lastVersionId: 'v1' });
  const m = await w.next(2000);
  t.is(m.secret, undefined);
  t.is(m.heartbeat?.versionId, 'v1');
  t.truthy(m.freshness?.checkedAt);
});

test('resuming with an older last_version_id gets the newest Secret first', async (t) => {
  const reader = readerWith('db', 'v7');
  const gw = await startTestGateway(t, { reader, hub: { pollIntervalMs: 60_000 }, service: { heartbeatMs: 60_000 } });
  const w = openWatch(t, gw.client, { name: 'db', lastVersionId: 'v5' });
  const m = await w.next(2000);
  t.is(m.secret?.versionId, 'v7');
});

test('a rotation is pushed as a full Secret, then heartbeats carry advancing checked_at', async (t) => {
  const reader = readerWith();
  const gw = await startTestGateway(t, { reader });
  const w = openWatch(t, gw.client, { name: 'db' });
  await w.nextSecret('v1');
  reader.rotate('db', 'v2', { value: { kind: 'binary', bytes: Buffer.from([9, 8, 7]) } });
  const m = await w.nextSecret('v2');
  t.deepEqual(Buffer.from(m.secret!.binaryValue!), Buffer.from([9, 8, 7]));
  t.is(m.secret!.name, 'db');
  t.deepEqual(m.secret!.versionStages, ['ACSCurrent']);
  const beats: number[] = [];
  while (beats.length < 4) {
    const hb = await w.next();
    if (hb.heartbeat) {
      t.is(hb.heartbeat.versionId, 'v2');
      beats.push(hb.freshness!.checkedAt!.getTime());
    }
  }
  for (let i = 1; i < beats.length; i++) t.true(beats[i]! >= beats[i - 1]!, 'checked_at never goes back');
  t.true(beats.at(-1)! > beats[0]!, 'checked_at advances while KMS answers');
});

test('every rotation reaches the stream, in order, none skipped when the client keeps up', async (t) => {
  const reader = readerWith('db', 'v0');
  const gw = await startTestGateway(t, { reader });
  const w = openWatch(t, gw.client, { name: 'db' });
  await w.nextSecret('v0');
  for (let i = 1; i <= 3; i++) {
    reader.rotate('db', `v${i}`);
    await w.nextSecret(`v${i}`);
  }
  const versions = w.messages.filter((m) => m.secret).map((m) => m.secret!.versionId);
  t.deepEqual(versions, ['v0', 'v1', 'v2', 'v3']);
});

test('a deleted secret ends the stream with NOT_FOUND', async (t) => {
  const reader = readerWith();
  const gw = await startTestGateway(t, { reader });
  const w = openWatch(t, gw.client, { name: 'db' });
  await w.nextSecret('v1');
  reader.remove('db', new SecretNotFoundError('secret db not found'));
  const err = await w.endStatus();
  t.is(err.code, status.NOT_FOUND);
  await eventually(() => gw.hub.stats().subscribers === 0 && gw.service.streamCount() === 0, 2000, 'counts to return to 0');
});

test('revoked access ends the stream with PERMISSION_DENIED', async (t) => {
  const reader = readerWith();
  const gw = await startTestGateway(t, { reader });
  const w = openWatch(t, gw.client, { name: 'db' });
  await w.nextSecret('v1');
  reader.remove('db', new AccessDeniedError('Forbidden.NoPermission'));
  t.is((await w.endStatus()).code, status.PERMISSION_DENIED);
});

test('a secret that does not exist ends the watch at once with NOT_FOUND', async (t) => {
  const gw = await startTestGateway(t, { reader: new FakeReader() });
  const w = openWatch(t, gw.client, { name: 'missing' });
  t.is((await w.endStatus()).code, status.NOT_FOUND);
});

test('an invalid request ends the watch with INVALID_ARGUMENT naming the field', async (t) => {
  const gw = await startTestGateway(t, { reader: readerWith() });
  for (const [req, field] of [
    [{ name: 'bad name' }, 'name'],
    [{ name: 'db', versionStage: 'x/y' }, 'version_stage'],
    [{ name: 'db', regionId: 'EU' }, 'region_id'],
    [{ name: 'db', lastVersionId: 'v 1' }, 'last_version_id'],
  ] as const) {
    const err = await openWatch(t, gw.client, req).endStatus();
    t.is(err.code, status.INVALID_ARGUMENT);
    t.true(err.details.startsWith(`${field}: `), err.details);
  }
  t.is(gw.service.streamCount(), 0);
});

test('KMS failing transiently: the stream stays open, checked_at stops, and recovery delivers the new version', async (t) => {
  const reader = readerWith();
  const gw = await startTestGateway(t, { reader });
  const w = openWatch(t, gw.client, { name: 'db' });
  await w.nextSecret('v1');
  // Let a poll or two confirm v1, then fail every KMS round trip.
  await delay(250);
  reader.kmsError = new BackendUnavailableError('all KMS targets failed');
  const failingSinceCalls = reader.forceCalls();
  await eventually(() => reader.forceCalls() >= failingSinceCalls + 1, 2000, 'a failing poll');
  w.skipReceived();
  const beats: number[] = [];
  while (beats.length < 4) {
    const m = await w.next();
    t.is(m.secret, undefined, 'no new version while KMS fails');
    beats.push(m.freshness!.checkedAt!.getTime());
  }
  t.is(new Set(beats.slice(1)).size, 1, 'checked_at does not advance while KMS fails');
  t.false(w.ended);
  // A failed update must not silence the watch (Envoy #42438): the next good poll delivers.
  reader.rotate('db', 'v2');
  reader.kmsError = undefined;
  const m = await w.nextSecret('v2');
  t.true(m.freshness!.checkedAt!.getTime() > beats.at(-1)!);
});

test('an initial read that fails transiently ends the watch with UNAVAILABLE', async (t) => {
  const reader = readerWith();
  reader.kmsError = new BackendUnavailableError('all KMS targets failed');
  const gw = await startTestGateway(t, { reader });
  const err = await openWatch(t, gw.client, { name: 'db' }).endStatus();
  t.is(err.code, status.UNAVAILABLE);
});

test('streams on one key share one poller and never force KMS to open; counts return to 0 when they leave', async (t) => {
  const reader = readerWith();
  const gw = await startTestGateway(t, { reader, hub: { pollIntervalMs: 60_000 } });
  const ws = Array.from({ length: 5 }, () => openWatch(t, gw.client, { name: 'db' }));
  for (const w of ws) await w.nextSecret('v1');
  // Each stream's first message is a cache read (an L1 hit in the real store), so an eviction after
  // NotFound/AccessDenied is honoured at once; none of them forces a KMS round trip.
  t.is(reader.calls.filter((c) => c.maxStalenessMs === undefined).length, 5, 'one cache read per new stream');
  t.is(reader.calls.filter((c) => c.maxStalenessMs === 0).length, 0, 'no forced KMS read to open a stream');
  await eventually(() => gw.hub.stats().pollingKeys === 1, 2000, 'the replica to poll the key');
  t.deepEqual({ ...gw.hub.stats(), polls: 0 }, { keys: 1, subscribers: 5, pollingKeys: 1, degradedKeys: 0, polls: 0, unpolled: 0, rotationsDetected: 0 });
  for (const w of ws) w.call.cancel();
  await eventually(() => gw.service.streamCount() === 0 && gw.hub.stats().subscribers === 0 && gw.hub.stats().keys === 0, 2000, 'counts to return to 0');
  await eventually(() => gw.hub.stats().pollingKeys === 0, 2000, 'polling to stop');
});

test('a new stream is not handed a version the cache has since dropped (secret deleted)', async (t) => {
  const reader = readerWith();
  const gw = await startTestGateway(t, { reader, hub: { pollIntervalMs: 60_000 } });
  const first = openWatch(t, gw.client, { name: 'db' });
  await first.nextSecret('v1');
  reader.remove('db', new SecretNotFoundError('secret db not found')); // as the cache does after KMS answered NotFound
  const err = await openWatch(t, gw.client, { name: 'db' }).endStatus();
  t.is(err.code, status.NOT_FOUND);
});
