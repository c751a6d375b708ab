import test from 'ava';
import { Metadata, status } from '@grpc/grpc-js';
import { MemoryBroker, createMemoryBus } from '../../src/watch/memoryBus';
import { CallerGate } from '../../src/auth/gate';
import { peerIp, StreamLimits } from '../../src/server/limits';
import { FakeReader, version } from '../helpers/fakeReader';
import { eventually, openWatch, startTestGateway } from '../helpers/watchGateway';

const asCaller = (id: string) => {
  const md = new Metadata();
  md.set('authorization', `Bearer ${id}`);
  return md;
};
// Identities from a stand-in token verifier (the token is the identity): the limit is per identity.
const byIdentity = {
  gate: new CallerGate({ acceptCertificates: false, requireCertificate: false, tokens: { verifyToken: async (token: string) => ({ identity: token }) }, policy: { current: { decide: () => true } } }),
};

function readerWith(): FakeReader {
  const r = new FakeReader();
  r.set(version('db', 'v1'));
  return r;
}

test('per-caller stream limit: RESOURCE_EXHAUSTED beyond it, other callers unaffected, slot freed on close', async (t) => {
  const gw = await startTestGateway(t, { reader: readerWith(), service: { limits: { maxStreamsPerCaller: 2 }, access: byIdentity } });
  const a1 = openWatch(t, gw.client, { name: 'db' }, asCaller('a'));
  const a2 = openWatch(t, gw.client, { name: 'db' }, asCaller('a'));
  await a1.nextSecret();
  await a2.nextSecret();
  const a3 = openWatch(t, gw.client, { name: 'db' }, asCaller('a'));
  const err = await a3.endStatus();
  t.is(err.code, status.RESOURCE_EXHAUSTED);
  t.regex(err.details, /caller/);
  await openWatch(t, gw.client, { name: 'db' }, asCaller('b')).nextSecret();
  a1.call.cancel();
  await eventually(() => gw.service.streamCount() === 2, 2000, 'the cancelled stream to be released');
  await openWatch(t, gw.client, { name: 'db' }, asCaller('a')).nextSecret();
});

test('per-replica stream limit: RESOURCE_EXHAUSTED beyond it whoever the caller', async (t) => {
  const gw = await startTestGateway(t, { reader: readerWith(), service: { limits: { maxStreams: 3 }, access: byIdentity } });
  for (const c of ['a', 'b', 'c']) await openWatch(t, gw.client, { name: 'db' }, asCaller(c)).nextSecret();
  const err = await openWatch(t, gw.client, { name: 'db' }, asCaller('d')).endStatus();
  t.is(err.code, status.RESOURCE_EXHAUSTED);
  t.regex(err.details, /replica/);
  t.is(gw.service.streamCount(), 3);
});

test('by default the caller is the peer IP', async (t) => {
  const gw = await startTestGateway(t, { reader: readerWith(), service: { limits: { maxStreamsPerCaller: 1 } } });
  await openWatch(t, gw.client, { name: 'db' }).nextSecret();
  t.is((await openWatch(t, gw.client, { name: 'db' }).endStatus()).code, status.RESOURCE_EXHAUSTED);
});

test('peerIp strips the port from IPv4 and IPv6 peers', (t) => {
  const call = (peer: string) => ({ getPeer: () => peer, metadata: new Metadata() });
  t.is(peerIp(call('10.1.2.3:5000')), '10.1.2.3');
  t.is(peerIp(call('[::1]:5000')), '::1');
  t.is(peerIp(call('[fe80::1%eth0]:5000')), 'fe80::1%eth0');
  t.is(peerIp(call('unix:/tmp/sock')), 'unix:/tmp/sock');
});

test('StreamLimits releases are idempotent and counts return to 0', (t) => {
  const l = new StreamLimits({ maxStreams: 2, maxStreamsPerCaller: 2 });
  const r1 = l.acquire('x');
  const r2 = l.acquire('y');
  t.throws(() => l.acquire('z'), { name: 'ResourceExhaustedError' });
  r1();
  r1();
  r2();
  t.deepEqual(l.counts(), { streams: 0, callers: 0 });
});

test('endAllStreams ends every stream with UNAVAILABLE "server shutting down" and refuses new ones', async (t) => {
  const reader = readerWith();
  const gw = await startTestGateway(t, { reader });
  const ws = [openWatch(t, gw.client, { name: 'db' }), openWatch(t, gw.client, { name: 'db' })];
  for (const w of ws) await w.nextSecret();
  await gw.service.endAllStreams();
  t.is(gw.service.streamCount(), 0);
  for (const w of ws) {
    const err = await w.endStatus();
    t.is(err.code, status.UNAVAILABLE);
    t.is(err.details, 'server shutting down');
  }
  const late = await openWatch(t, gw.client, { name: 'db' }).endStatus();
  t.is(late.code, status.UNAVAILABLE);
  t.is(late.details, 'server shutting down');
  await eventually(() => gw.hub.stats().subscribers === 0, 2000, 'subscribers to return to 0');
});

test('a client that reconnects to another replica with last_version_id misses no rotation', async (t) => {
  const reader = readerWith();
  const broker = new MemoryBroker();
  const a = await startTestGateway(t, { reader, hub: { bus: createMemoryBus(broker), replicaId: 'a' } });
  const b = await startTestGateway(t, { reader, hub: { bus: createMemoryBus(broker), replicaId: 'b' } });
  const other = openWatch(t, b.client, { name: 'db' });
  await other.nextSecret('v1');
  const w = openWatch(t, a.client, { name: 'db' });
  const held = (await w.nextSecret('v1')).secret!.versionId;
  await a.service.endAllStreams();
  t.is((await w.endStatus()).code, status.UNAVAILABLE);
  // The secret rotates while the client is between replicas; the cluster detects it.
  reader.rotate('db', 'v2');
  await other.nextSecret('v2');
  const resumed = openWatch(t, b.client, { name: 'db', lastVersionId: held });
  const first = await resumed.next();
  t.is(first.secret?.versionId, 'v2', 'the first message after resume is the newest Secret');
  t.is(first.secret?.stringValue, 'value-of-v2');
});

test('resuming before the cluster noticed a rotation still delivers it', async (t) => {
  const reader = readerWith();
  await reader.get({ name: 'db', versionStage: 'ACSCurrent' }, {}); // the shared tier holds v1
  reader.rotate('db', 'v2'); // KMS has v2; nobody has polled yet
  const gw = await startTestGateway(t, { reader, hub: { pollIntervalMs: 500 } });
  const resumed = openWatch(t, gw.client, { name: 'db', lastVersionId: 'v1' });
  t.is((await resumed.next()).heartbeat?.versionId, 'v1', 'the cache says v1 is current');
  await resumed.nextSecret('v2', 5000);
  t.pass('the next poll delivered v2');
});
