import test from 'ava';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import {
  AccessDeniedError,
  BackendAuthError,
  BackendUnavailableError,
  ResourceExhaustedError,
  SecretNotFoundError,
  ThrottledError,
} from '../../src/errors';
import { Freshness_Source, type GetSecretRequest, type GetSecretResponse, type SecretsGatewayServiceClient } from '../../src/gen/secretsgateway/v1/secrets_gateway';
import { FakeReader, version } from '../helpers/fakeReader';
import { eventually, startTestGateway } from '../helpers/watchGateway';

function call(client: SecretsGatewayServiceClient, req: Partial<GetSecretRequest>, deadlineMs?: number): Promise<{ res?: GetSecretResponse; err?: ServiceError }> {
  const full: GetSecretRequest = { name: '', versionStage: '', versionId: '', regionId: '', fetchExtendedConfig: false, ...req };
  return new Promise((resolve) => {
    const cb = (err: ServiceError | null, res?: GetSecretResponse) => resolve(err ? { err } : { res: res! });
    if (deadlineMs === undefined) client.getSecret(full, cb);
    else client.getSecret(full, new Metadata(), { deadline: Date.now() + deadlineMs }, cb);
  });
}

const long = (n: number, c = 'a') => c.repeat(n);

const invalid: { name: string; req: Partial<GetSecretRequest>; field: string }[] = [
  { name: 'empty name', req: { name: '' }, field: 'name' },
  { name: 'name too long', req: { name: long(193) }, field: 'name' },
  { name: 'name with a space', req: { name: 'db password' }, field: 'name' },
  { name: 'name with a control character', req: { name: 'db\u0000pw' }, field: 'name' },
  { name: 'name with a colon (not an ARN)', req: { name: 'acs:kms:x' }, field: 'name' },
  { name: 'ARN with a bad secret part', req: { name: 'acs:kms:cn-hangzhou:123456:secret/has space' }, field: 'name' },
  { name: 'ARN region differs from region_id', req: { name: 'acs:kms:cn-hangzhou:123456:secret/db', regionId: 'cn-shanghai' }, field: 'region_id' },
  { name: 'stage too long', req: { name: 'db', versionStage: long(65) }, field: 'version_stage' },
  { name: 'stage with a slash', req: { name: 'db', versionStage: 'ACS/Current' }, field: 'version_stage' },
  { name: 'version id with a space', req: { name: 'db', versionId: 'v 1' }, field: 'version_id' },
  { name: 'version id too long', req: { name: 'db', versionId: long(65, '1') }, field: 'version_id' },
  { name: 'region with capitals', req: { name: 'db', regionId: 'CN-Hangzhou' }, field: 'region_id' },
  { name: 'region too long', req: { name: 'db', regionId: long(64) }, field: 'region_id' },
  { name: 'negative staleness', req: { name: 'db', maxStaleness: { seconds: -1, nanos: 0 } }, field: 'max_staleness' },
  { name: 'negative staleness nanos', req: { name: 'db', maxStaleness: { seconds: 0, nanos: -5 } }, field: 'max_staleness' },
  { name: 'staleness over a day', req: { name: 'db', maxStaleness: { seconds: 86_401, nanos: 0 } }, field: 'max_staleness' },
];

for (const c of invalid) {
  test(`GetSecret rejects ${c.name} with INVALID_ARGUMENT naming ${c.field}`, async (t) => {
    const reader = new FakeReader();
    const gw = await startTestGateway(t, { reader });
    const { err } = await call(gw.client, c.req);
    t.is(err?.code, status.INVALID_ARGUMENT);
    t.true(err!.details.startsWith(`${c.field}: `), err!.details);
    t.true(err!.details.length < 400, 'the bad input is not echoed in full');
    t.is(reader.calls.length, 0, 'nothing reaches the cache');
  });
}

test('GetSecret echoes at most a short escaped preview of a bad name', async (t) => {
  const gw = await startTestGateway(t, { reader: new FakeReader() });
  const { err } = await call(gw.client, { name: `x y${'z'.repeat(500)}\u0007` });
  t.is(err?.code, status.INVALID_ARGUMENT);
  t.false(err!.details.includes('z'.repeat(30)));
  t.false(err!.details.includes('\u0007'));
  t.regex(err!.details, /\(504 chars\)/);
});

const valid: { name: string; req: Partial<GetSecretRequest> }[] = [
  { name: 'all allowed punctuation', req: { name: 'a_b/c+d=e.f@g-h' } },
  { name: '192 characters', req: { name: long(192) } },
  { name: 'an ARN', req: { name: 'acs:kms:cn-hangzhou:1234567890123456:secret/db' } },
  { name: 'a custom stage', req: { name: 'db', versionStage: 'my_stage-1.0' } },
  { name: 'a version id', req: { name: 'db', versionId: 'v-0001' } },
  { name: 'a zero staleness', req: { name: 'db', maxStaleness: { seconds: 0, nanos: 0 } } },
];

for (const c of valid) {
  test(`GetSecret accepts ${c.name}`, async (t) => {
    const reader = new FakeReader(); // knows no secret: a valid request reaches it and gets NOT_FOUND
    const gw = await startTestGateway(t, { reader });
    const { err } = await call(gw.client, c.req);
    t.is(err?.code, status.NOT_FOUND);
    t.is(reader.calls.length, 1);
  });
}

test('GetSecret returns a text secret with metadata and freshness', async (t) => {
  const reader = new FakeReader();
  reader.set(
    version('db', 'v1', {
      versionStages: ['ACSCurrent'],
      secretType: 'Rds',
      automaticRotation: true,
      lastRotationTimeMs: 1_700_000_100_000,
      nextRotationTimeMs: 1_700_600_000_000,
      rotationIntervalSeconds: 604_800,
      extendedConfig: '{"a":1}',
    }),
  );
  const gw = await startTestGateway(t, { reader });
  const { res, err } = await call(gw.client, { name: 'db' });
  t.falsy(err);
  const s = res!.secret!;
  t.is(s.name, 'db');
  t.is(s.versionId, 'v1');
  t.is(s.stringValue, 'value-of-v1');
  t.is(s.binaryValue, undefined);
  t.deepEqual(s.versionStages, ['ACSCurrent']);
  t.is(s.secretType, 'Rds');
  t.true(s.automaticRotation);
  t.is(s.createTime?.getTime(), 1_700_000_000_000);
  t.is(s.lastRotationTime?.getTime(), 1_700_000_100_000);
  t.is(s.nextRotationTime?.getTime(), 1_700_600_000_000);
  t.deepEqual(s.rotationInterval, { seconds: 604_800, nanos: 0 });
  t.is(s.extendedConfig, '{"a":1}');
  t.is(s.regionId, 'cn-hangzhou');
  t.is(res!.freshness?.source, Freshness_Source.SOURCE_KMS);
  t.true(Math.abs(res!.freshness!.checkedAt!.getTime() - Date.now()) < 5000);
  t.is(reader.calls[0]!.stage, 'ACSCurrent', 'empty stage means ACSCurrent');
});

test('GetSecret returns a binary secret as bytes', async (t) => {
  const reader = new FakeReader();
  const bytes = Buffer.from([0, 1, 2, 250, 255]);
  reader.set(version('bin', 'v1', { value: { kind: 'binary', bytes } }));
  const gw = await startTestGateway(t, { reader });
  const { res } = await call(gw.client, { name: 'bin' });
  t.is(res!.secret!.stringValue, undefined);
  t.deepEqual(Buffer.from(res!.secret!.binaryValue!), bytes);
});

test('GetSecret passes max_staleness to the reader in ms, and the version selector', async (t) => {
  const reader = new FakeReader();
  reader.set(version('db', 'v1'));
  const gw = await startTestGateway(t, { reader });
  await call(gw.client, { name: 'db', maxStaleness: { seconds: 2, nanos: 500_000_000 } });
  t.is(reader.calls.at(-1)!.maxStalenessMs, 2500);
  await call(gw.client, { name: 'db' });
  t.is(reader.calls.at(-1)!.maxStalenessMs, undefined, 'unset staleness is left to the cache');
  await call(gw.client, { name: 'db', versionId: 'v1', versionStage: 'ACSPrevious' });
  t.is(reader.calls.at(-1)!.versionId, 'v1');
  t.is(reader.calls.at(-1)!.stage, undefined, 'the stage is ignored when a version id is given');
});

const errors: { name: string; err: Error; code: status }[] = [
  { name: 'not found', err: new SecretNotFoundError('secret db not found'), code: status.NOT_FOUND },
  { name: 'access denied', err: new AccessDeniedError('denied'), code: status.PERMISSION_DENIED },
  { name: 'backend unavailable', err: new BackendUnavailableError('all KMS targets failed'), code: status.UNAVAILABLE },
  { name: 'throttled', err: new ThrottledError('budget exhausted'), code: status.RESOURCE_EXHAUSTED },
  { name: 'resource exhausted', err: new ResourceExhaustedError('too many waiters'), code: status.RESOURCE_EXHAUSTED },
  { name: 'our KMS credentials rejected (says nothing about the secret: retry)', err: new BackendAuthError('InvalidAccessKeyId'), code: status.UNAVAILABLE },
  { name: 'an unexpected error', err: new TypeError('boom at /internal/path'), code: status.INTERNAL },
];

for (const c of errors) {
  test(`GetSecret maps ${c.name} to ${status[c.code]}`, async (t) => {
    const reader = new FakeReader();
    reader.remove('db', c.err);
    const gw = await startTestGateway(t, { reader });
    const { err } = await call(gw.client, { name: 'db' });
    t.is(err?.code, c.code);
    if (c.code === status.INTERNAL) t.false(err!.details.includes('/internal/path'), 'internal detail stays in the log');
  });
}

test('a client deadline ends the call with DEADLINE_EXCEEDED and aborts the reader', async (t) => {
  const reader = new FakeReader();
  reader.hang = true;
  const gw = await startTestGateway(t, { reader });
  // Long enough for the call to reach the handler on a loaded 2-core machine.
  const { err } = await call(gw.client, { name: 'db' }, 300);
  t.is(err?.code, status.DEADLINE_EXCEEDED);
  t.is(reader.calls.length, 1, 'the reader was waiting when the deadline passed');
  const signal = reader.calls[0]!.signal!;
  await eventually(() => signal.aborted, 2000, 'the reader signal to abort');
  // Usually our deadline timer (TimeoutError); on a loaded machine the client's own deadline
  // cancel can arrive first (AbortError). Either way the reader was told to stop.
  t.true(['TimeoutError', 'AbortError'].includes((signal.reason as Error).name));
});

test('a client cancel aborts the reader', async (t) => {
  const reader = new FakeReader();
  reader.hang = true;
  const gw = await startTestGateway(t, { reader });
  const full: GetSecretRequest = { name: 'db', versionStage: '', versionId: '', regionId: '', fetchExtendedConfig: false };
  const done = new Promise<ServiceError | null>((resolve) => {
    const c = gw.client.getSecret(full, (e) => resolve(e));
    void eventually(() => reader.calls.length === 1).then(() => c.cancel());
  });
  t.is((await done)?.code, status.CANCELLED);
  const signal = reader.calls[0]!.signal!;
  await eventually(() => signal.aborted, 2000, 'the reader signal to abort');
  t.is((signal.reason as Error).name, 'AbortError');
});
