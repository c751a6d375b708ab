/**
 * Combined KMS failures against the emulator over real sockets, with two and three targets: a
 * region refusing connections (its listener closed) together with another throttling, busy or
 * down. Assertions are on which regions were called, how often, and what the call answered.
 */
import { status } from '@grpc/grpc-js';
import test from 'ava';
import { ThrottledError } from '../../src/errors';
import { KmsPool } from '../../src/kms/pool';
import { toStatus } from '../../src/server/status';
import { kmsConfig, startEmulator } from '../helpers/kms';

const seed = { secrets: [{ name: 'app/text', versions: [{ versionId: 'v1', stages: ['ACSCurrent'], text: 'SENTINEL-combined' }] }] };
const gsv = (emu: { counters(r?: string): Record<string, number> }, region?: string) => emu.counters(region).GetSecretValue ?? 0;
const deadline = () => AbortSignal.timeout(20_000);

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; !cond(); i++) {
    if (i > 2000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('region B refusing connections, region C answering 429, then 503, then the value: a cold read gets the value', async (t) => {
  const emu = await startEmulator(t, { seed, regions: ['cn-beijing', 'cn-chengdu'] });
  const pool = new KmsPool({ config: kmsConfig(emu) }); // SECRETS_GATEWAY_KMS_RETRY_MAX_ATTEMPTS' default: 4
  await emu.faults.down('cn-beijing');
  emu.faults.set('cn-chengdu', { errorCode: 'Rejected.Throttling', httpStatus: 429, times: 1, then: { errorCode: 'ServiceUnavailableTemporary', httpStatus: 503, times: 1 } });
  const s = await pool.getSecretValue({ name: 'app/text' }, { signal: deadline() });
  t.deepEqual(s.value, { kind: 'string', text: 'SENTINEL-combined' });
  t.is(s.regionId, 'cn-chengdu');
  t.deepEqual(emu.requestLog().map((r) => `${r.regionId} ${r.code}`), ['cn-chengdu Rejected.Throttling', 'cn-chengdu ServiceUnavailableTemporary', 'cn-chengdu OK']);
  t.deepEqual(pool.health().map((h) => h.state), ['ejected', 'closed'], 'B ejected after one refusal; C is healthy, only throttled');
});

test('three regions, two refusing: the third throttles once and then answers, and no attempt goes back to the refusing ones', async (t) => {
  const emu = await startEmulator(t, { seed, regions: ['cn-beijing', 'cn-chengdu', 'cn-hangzhou'] });
  const pool = new KmsPool({ config: kmsConfig(emu) });
  await emu.faults.down('cn-beijing');
  await emu.faults.down('cn-chengdu');
  emu.faults.set('cn-hangzhou', { errorCode: 'Rejected.Throttling', httpStatus: 429, times: 1 });
  const s = await pool.getSecretValue({ name: 'app/text' }, { signal: deadline() });
  t.is(s.regionId, 'cn-hangzhou');
  t.is(gsv(emu, 'cn-hangzhou'), 2);
  t.deepEqual(pool.health().map((h) => h.state), ['ejected', 'ejected', 'closed']);
  // While they stay ejected, later calls go straight to the region that works.
  await pool.getSecretValue({ name: 'app/text' }, { signal: deadline() });
  t.is(gsv(emu, 'cn-hangzhou'), 3);
});

test('every region refusing: the call waits for an ejected region to come back, and gets the value from it', async (t) => {
  const emu = await startEmulator(t, { seed, regions: ['cn-beijing', 'cn-chengdu'] });
  const pool = new KmsPool({ config: kmsConfig(emu, { ejection: { baseMs: 300, maxMs: 5000 }, retry: { maxAttempts: 4, baseDelayMs: 10, maxDelayMs: 1000 } }) });
  await emu.faults.down('cn-beijing');
  await emu.faults.down('cn-chengdu');
  const read = pool.getSecretValue({ name: 'app/text' }, { signal: deadline() });
  await until(() => pool.health().every((h) => h.state === 'ejected'), 'both regions to be ejected');
  await emu.faults.up('cn-chengdu'); // back while the call waits out the ejections
  const s = await read;
  t.is(s.regionId, 'cn-chengdu');
  t.is(gsv(emu), 1, 'one request reached KMS: the probe that found the region back');
});

test('a region refusing and the other throttling without end: RESOURCE_EXHAUSTED, not "cannot reach KMS"', async (t) => {
  const emu = await startEmulator(t, { seed, regions: ['cn-beijing', 'cn-chengdu'] });
  const pool = new KmsPool({ config: kmsConfig(emu) });
  await emu.faults.down('cn-beijing');
  emu.faults.set('cn-chengdu', { errorCode: 'Rejected.Throttling', httpStatus: 429 });
  const err = await t.throwsAsync(pool.getSecretValue({ name: 'app/text' }, { signal: deadline() }), { instanceOf: ThrottledError });
  t.is(toStatus(err).code, status.RESOURCE_EXHAUSTED);
  t.is(gsv(emu, 'cn-chengdu'), 3, 'attempts went to the region that could answer: 1 refused + 3 throttled = 4');
});
