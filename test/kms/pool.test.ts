import test from 'ava';
import { AccessDeniedError, BackendUnavailableError, InvalidArgumentError, SecretNotFoundError } from '../../src/errors';
import { KmsPool } from '../../src/kms/pool';
import { createLogger } from '../../src/telemetry/logger';
import { isoDaysFromNow } from '../helpers/clock';
import { kmsConfig, startEmulator, TEST_AK } from '../helpers/kms';

const SENTINEL = 'SENTINEL-value-4b9e1d';
const BINARY = Buffer.from([0, 1, 2, 250, 251, 252, 253, 254, 255]);
// Relative to the clock: a next rotation date in the past makes the emulator rotate on first read.
const LAST_ROTATION = isoDaysFromNow(-30);
const NEXT_ROTATION = isoDaysFromNow(7);
const seed = {
  secrets: [
    { name: 'app/text', versions: [{ versionId: 'v1', stages: ['ACSCurrent'], text: SENTINEL }] },
    { name: 'app/binary', versions: [{ versionId: 'b1', stages: ['ACSCurrent'], binaryBase64: BINARY.toString('base64') }] },
    {
      name: 'app/rds',
      type: 'Rds',
      automaticRotation: true,
      rotationInterval: '604800s',
      lastRotationDate: LAST_ROTATION,
      nextRotationDate: NEXT_ROTATION,
      extendedConfig: { SecretSubType: 'SingleUser', DBInstanceId: 'rm-test' },
      versions: [
        { versionId: 'r1', stages: ['ACSPrevious'], text: '{"AccountName":"app","AccountPassword":"old"}' },
        { versionId: 'r2', stages: ['ACSCurrent'], text: '{"AccountName":"app","AccountPassword":"new"}' },
      ],
    },
  ],
};

const gsv = (emu: { counters(r?: string): Record<string, number> }, region?: string) => emu.counters(region).GetSecretValue ?? 0;

test('text, binary, extended config and rotation fields come through intact over HTTPS with the CA pinned', async (t) => {
  const emu = await startEmulator(t, { seed });
  const pool = new KmsPool({ config: kmsConfig(emu) });
  t.is(emu.regions['cn-hangzhou']!.protocol, 'https');

  const text = await pool.getSecretValue({ name: 'app/text' });
  t.deepEqual(text.value, { kind: 'string', text: SENTINEL });
  t.deepEqual(text.versionStages, ['ACSCurrent']);
  t.is(text.regionId, 'cn-hangzhou');

  const bin = await pool.getSecretValue({ name: 'app/binary' });
  t.deepEqual(bin.value, { kind: 'binary', bytes: BINARY });

  const rds = await pool.getSecretValue({ name: 'app/rds', fetchExtendedConfig: true });
  t.is(rds.secretType, 'Rds');
  t.true(rds.automaticRotation);
  t.is(rds.rotationIntervalSeconds, 604800);
  t.is(rds.versionId, 'r2', 'no automatic rotation: the next rotation date is ahead');
  t.is(rds.lastRotationTimeMs, Date.parse(LAST_ROTATION));
  t.is(rds.nextRotationTimeMs, Date.parse(NEXT_ROTATION));
  t.deepEqual(JSON.parse(rds.extendedConfig!), { SecretSubType: 'SingleUser', DBInstanceId: 'rm-test' });

  const prev = await pool.getSecretValue({ name: 'app/rds', versionStage: 'ACSPrevious' });
  t.is(prev.versionId, 'r1');
  const byId = await pool.getSecretValue({ name: 'app/rds', versionId: 'r2' });
  t.deepEqual(byId.versionStages, ['ACSCurrent']);
  const noExt = await pool.getSecretValue({ name: 'app/rds' });
  t.is(noExt.extendedConfig, undefined);
});

test('with region A down, region B serves within the same call', async (t) => {
  const emu = await startEmulator(t, { seed, regions: ['cn-hangzhou', 'cn-shanghai'] });
  const pool = new KmsPool({ config: kmsConfig(emu) });
  await emu.faults.down('cn-hangzhou');
  const s = await pool.getSecretValue({ name: 'app/text' });
  t.is(s.regionId, 'cn-shanghai');
  t.is(gsv(emu, 'cn-shanghai'), 1);
});

test('a region_id restriction uses only that region, and an unknown region is INVALID_ARGUMENT on region_id', async (t) => {
  const emu = await startEmulator(t, { seed, regions: ['cn-hangzhou', 'cn-shanghai'] });
  const pool = new KmsPool({ config: kmsConfig(emu) });
  const s = await pool.getSecretValue({ name: 'app/text', regionId: 'cn-shanghai' });
  t.is(s.regionId, 'cn-shanghai');
  t.is(gsv(emu, 'cn-hangzhou'), 0);
  const err = await t.throwsAsync(pool.getSecretValue({ name: 'app/text', regionId: 'eu-central-1' }), { instanceOf: InvalidArgumentError });
  t.is((err as InvalidArgumentError).field, 'region_id');
  // Restricted to a region that is down: no silent failover to another region.
  await emu.faults.down('cn-shanghai');
  await t.throwsAsync(pool.getSecretValue({ name: 'app/text', regionId: 'cn-shanghai' }), { instanceOf: BackendUnavailableError });
});

test('a breaker opens after consecutive failures, sends nothing while open, and closes after a half-open probe', async (t) => {
  const emu = await startEmulator(t, { seed });
  let skew = 0;
  const pool = new KmsPool({
    config: kmsConfig(emu, { breaker: { failureThreshold: 2, openMs: 1000 }, retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 } }),
    now: () => Date.now() + skew,
  });
  // InternalFailure, not 503 ServiceUnavailableTemporary: a busy target cools down instead (kms/classify.ts).
  emu.faults.set('cn-hangzhou', { errorCode: 'InternalFailure', httpStatus: 500, rate: 1 });
  await t.throwsAsync(pool.getSecretValue({ name: 'app/text' }), { instanceOf: BackendUnavailableError });
  t.is(gsv(emu), 2);
  t.is(pool.health()[0]!.state, 'open');

  await t.throwsAsync(pool.getSecretValue({ name: 'app/text' }), { instanceOf: BackendUnavailableError });
  t.is(gsv(emu), 2, 'an open breaker sends nothing to its target');

  emu.faults.clear('cn-hangzhou');
  skew += 1000; // the open period passes
  t.is(pool.health()[0]!.state, 'half-open');
  const s = await pool.getSecretValue({ name: 'app/text' });
  t.is(s.versionId, 'v1', 'the half-open probe reaches the recovered target');
  t.is(pool.health()[0]!.state, 'closed');
  t.is(gsv(emu), 3);
});

test('a failing region is demoted in health order, so later calls go to the healthy one first', async (t) => {
  const emu = await startEmulator(t, { seed, regions: ['cn-hangzhou', 'cn-shanghai'] });
  // A clock that does not move: measured latencies are 0, so the failure's penalty alone decides
  // the order, not how slow the first TLS handshake to the healthy region was on a busy machine.
  const pool = new KmsPool({ config: kmsConfig(emu), now: () => 1_000_000 });
  emu.faults.set('cn-hangzhou', { errorCode: 'InternalFailure', httpStatus: 500, rate: 1 });
  t.is((await pool.getSecretValue({ name: 'app/text' })).regionId, 'cn-shanghai');
  // The first call pays for the failing region (more than once if the healthy one also failed a
  // first attempt, as a TLS handshake can on a loaded machine); later calls do not.
  const paid = gsv(emu, 'cn-hangzhou');
  t.true(paid >= 1, 'the first call tried the failing region first');
  for (let i = 0; i < 2; i++) t.is((await pool.getSecretValue({ name: 'app/text' })).regionId, 'cn-shanghai');
  t.is(gsv(emu, 'cn-hangzhou'), paid, 'later calls went to the healthy region first');
});

test('429 Rejected.Throttling leads to backoff and then success: exactly 3 attempts', async (t) => {
  const emu = await startEmulator(t, { seed });
  const waits: number[] = [];
  const pool = new KmsPool({ config: kmsConfig(emu), random: () => (waits.push(1), 0.5) });
  emu.faults.set('cn-hangzhou', { errorCode: 'Rejected.Throttling', httpStatus: 429, rate: 1, times: 2 });
  const s = await pool.getSecretValue({ name: 'app/text' });
  t.is(s.versionId, 'v1');
  t.is(gsv(emu), 3);
  t.is(waits.length, 2, 'one backoff before each retry');
});

test('throttling that never ends stops at max attempts with a ThrottledError', async (t) => {
  const emu = await startEmulator(t, { seed });
  const pool = new KmsPool({ config: kmsConfig(emu, { retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 } }) });
  emu.faults.set('cn-hangzhou', { errorCode: 'Rejected.Throttling', httpStatus: 429, rate: 1 });
  const err = await t.throwsAsync(pool.getSecretValue({ name: 'app/text' }));
  t.is(err!.name, 'ThrottledError');
  t.is(gsv(emu), 3);
});

test('NotFound is not retried: exactly one emulator call, even with a second region', async (t) => {
  const emu = await startEmulator(t, { seed, regions: ['cn-hangzhou', 'cn-shanghai'] });
  const pool = new KmsPool({ config: kmsConfig(emu) });
  const err = await t.throwsAsync(pool.getSecretValue({ name: 'app/missing' }), { instanceOf: SecretNotFoundError });
  t.is(gsv(emu), 1);
  t.is(err!.message.includes('Forbidden.ResourceNotFound'), true);
  t.truthy((err as SecretNotFoundError).detail.requestId);
});

test('NoPermission (injected) is not retried and maps to AccessDeniedError', async (t) => {
  const emu = await startEmulator(t, { seed });
  const pool = new KmsPool({ config: kmsConfig(emu) });
  emu.faults.set('cn-hangzhou', { errorCode: 'Forbidden.NoPermission', httpStatus: 403, rate: 1 });
  await t.throwsAsync(pool.getSecretValue({ name: 'app/text' }), { instanceOf: AccessDeniedError });
  t.is(gsv(emu), 1);
});

test('a 200 ms caller deadline bounds a KMS latency of 2 s, retries included', async (t) => {
  const emu = await startEmulator(t, { seed });
  const pool = new KmsPool({ config: kmsConfig(emu) });
  emu.faults.set('cn-hangzhou', { latencyMs: 2000 });
  const signal = AbortSignal.timeout(200);
  const err = await t.throwsAsync(pool.getSecretValue({ name: 'app/text' }, { signal }), { any: true });
  t.is((err as Error).name, 'TimeoutError', 'the caller sees its own deadline, not a KMS failure');
  t.true(signal.aborted);
  await new Promise((r) => setTimeout(r, 300));
  t.true(gsv(emu) <= 1, 'no retry was started after the deadline');
  t.is(pool.health()[0]!.state, 'closed', 'an abandoned call says nothing about the target');
});

test('a hedged request goes to the next target when the first is slow, and the faster answer wins', async (t) => {
  const emu = await startEmulator(t, { seed, regions: ['cn-hangzhou', 'cn-shanghai'] });
  const pool = new KmsPool({ config: kmsConfig(emu, { hedgeDelayMs: 50 }) });
  emu.faults.set('cn-hangzhou', { latencyMs: 1500 });
  const s = await pool.getSecretValue({ name: 'app/text' });
  t.is(s.regionId, 'cn-shanghai');
  t.is(gsv(emu, 'cn-hangzhou'), 1);
  t.is(gsv(emu, 'cn-shanghai'), 1);
});

test('an unknown AccessKey is not retried and no credential appears in the error or logs', async (t) => {
  const emu = await startEmulator(t, { seed });
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', sink: (l) => lines.push(l) });
  const pool = new KmsPool({
    config: kmsConfig(emu, { credentials: { type: 'sts', accessKeyId: 'nope', accessKeySecret: TEST_AK.secret, securityToken: 'CAES-SENTINEL-token' } }),
    logger,
  });
  const err = await t.throwsAsync(pool.getSecretValue({ name: 'app/text' }));
  t.is(err!.name, 'BackendAuthError');
  t.is(gsv(emu), 1);
  const all = err!.message + lines.join('\n');
  for (const s of [TEST_AK.secret, 'CAES-SENTINEL-token', SENTINEL]) t.false(all.includes(s), s);
});

test('a TLS failure on one target (CA not trusted) fails over to the next, and callers never see the endpoint', async (t) => {
  const emu = await startEmulator(t, { seed, regions: ['cn-hangzhou', 'cn-shanghai'] });
  const cfg = kmsConfig(emu);
  cfg.targets[0] = { ...cfg.targets[0]!, caPem: undefined }; // the first target's CA is missing: its certificate is untrusted
  const pool = new KmsPool({ config: cfg });
  const s = await pool.getSecretValue({ name: 'app/text' });
  t.is(s.regionId, 'cn-shanghai');
  const err = await t.throwsAsync(pool.getSecretValue({ name: 'app/missing' }), { instanceOf: SecretNotFoundError });
  t.false(err!.message.includes('127.0.0.1'), err!.message);
});
