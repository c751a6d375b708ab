/**
 * `@alicloud/openapi-client` 0.4.15 `callApi`, signing V3 (ACS3-HMAC-SHA256, the default) and V1
 * (`signatureAlgorithm: 'v2'`), over HTTP and over HTTPS with the emulator's CA pinned through
 * `config.ca`: the whole secret lifecycle, with raw bodies checked field by field.
 */
import tls from 'node:tls';
import test, { type ExecutionContext } from 'ava';
import { createTestCa, type KmsEmulator } from '@secrets-gateway/kms-emulator';
import { isoDaysFromNow } from '../helpers/clock';
import { openApiClient, rpc, sdkError, startEmulator, type Signing } from './helpers';

const ca = createTestCa();
const BINARY = Buffer.from([0, 1, 2, 127, 128, 250, 255]);
const LAST_ROTATION = isoDaysFromNow(-30);
const NEXT_ROTATION = isoDaysFromNow(7);
const seed = {
  secrets: [
    { name: 'app/text', versions: [{ versionId: 'v1', stages: ['ACSCurrent'], text: 'plain text value' }] },
    { name: 'app/binary', versions: [{ versionId: 'b1', stages: ['ACSCurrent'], binaryBase64: BINARY.toString('base64') }] },
    {
      name: 'app/rds',
      type: 'Rds',
      automaticRotation: true,
      rotationInterval: '7d',
      lastRotationDate: LAST_ROTATION,
      nextRotationDate: NEXT_ROTATION,
      extendedConfig: { SecretSubType: 'SingleUser', DBInstanceId: 'rm-test' },
      versions: [
        { versionId: 'r1', stages: ['ACSPrevious'], json: { AccountName: 'app', AccountPassword: 'old' } },
        { versionId: 'r2', stages: ['ACSCurrent'], json: { AccountName: 'app', AccountPassword: 'new' } },
      ],
    },
  ],
};

async function lifecycle(t: ExecutionContext, emu: KmsEmulator, signing: Signing) {
  const c = openApiClient(emu, signing);

  const text = await rpc(c, 'GetSecretValue', { SecretName: 'app/text' });
  t.deepEqual(Object.keys(text), ['RequestId', 'SecretName', 'SecretType', 'VersionId', 'CreateTime', 'SecretData', 'SecretDataType', 'VersionStages', 'AutomaticRotation']);
  t.like(text, { SecretName: 'app/text', SecretType: 'Generic', VersionId: 'v1', SecretData: 'plain text value', SecretDataType: 'text', AutomaticRotation: 'Disabled' });
  t.deepEqual(text.VersionStages, { VersionStage: ['ACSCurrent'] });

  const bin = await rpc(c, 'GetSecretValue', { SecretName: 'app/binary' });
  t.is(bin.SecretDataType, 'binary');
  t.deepEqual(Buffer.from(bin.SecretData, 'base64'), BINARY);

  const rds = await rpc(c, 'GetSecretValue', { SecretName: 'app/rds', FetchExtendedConfig: true });
  t.like(rds, { SecretType: 'Rds', VersionId: 'r2', AutomaticRotation: 'Enabled', RotationInterval: '604800s', LastRotationDate: LAST_ROTATION, NextRotationDate: NEXT_ROTATION });
  t.deepEqual(JSON.parse(rds.ExtendedConfig), { SecretSubType: 'SingleUser', DBInstanceId: 'rm-test' });
  t.deepEqual(JSON.parse(rds.SecretData), { AccountName: 'app', AccountPassword: 'new' });
  t.false('ExtendedConfig' in (await rpc(c, 'GetSecretValue', { SecretName: 'app/rds' })), 'ExtendedConfig only with FetchExtendedConfig=true');
  t.is((await rpc(c, 'GetSecretValue', { SecretName: 'app/rds', VersionStage: 'ACSPrevious' })).VersionId, 'r1');

  // RotateSecret: a new current version with a new password; the old current becomes previous.
  const rotated = await rpc(c, 'RotateSecret', { SecretName: 'app/rds', VersionId: 'r3' });
  t.like(rotated, { SecretName: 'app/rds', VersionId: 'r3', Arn: 'acs:kms:cn-hangzhou:1234567890123456:secret/app/rds' });
  const afterRotation = await rpc(c, 'GetSecretValue', { SecretName: 'app/rds' });
  t.is(afterRotation.VersionId, 'r3');
  const password = JSON.parse(afterRotation.SecretData) as { AccountName: string; AccountPassword: string };
  t.is(password.AccountName, 'app');
  t.not(password.AccountPassword, 'new');
  t.not(afterRotation.LastRotationDate, LAST_ROTATION);
  t.true(Date.parse(afterRotation.NextRotationDate) > Date.now(), 'NextRotationDate moves on by the interval');
  t.is((await rpc(c, 'GetSecretValue', { SecretName: 'app/rds', VersionStage: 'ACSPrevious' })).VersionId, 'r2');
  const versions = await rpc(c, 'ListSecretVersionIds', { SecretName: 'app/rds', IncludeDeprecated: 'true' });
  t.deepEqual(
    versions.VersionIds.VersionId.map((v: { VersionId: string; VersionStages: { VersionStage: string[] } }) => [v.VersionId, v.VersionStages.VersionStage]),
    [['r1', []], ['r2', ['ACSPrevious']], ['r3', ['ACSCurrent']]],
  );
  t.is((await rpc(c, 'RotateSecret', { SecretName: 'app/rds', VersionId: 'r3' })).VersionId, 'r3', 'an existing VersionId makes RotateSecret a no-op');
  t.is((await sdkError(t, rpc(c, 'RotateSecret', { SecretName: 'app/text', VersionId: 'x' }))).code, 'Rejected.UnsupportedOperation');

  // CreateSecret and PutSecretValue with values in the form body (signed in both schemes).
  const created = await rpc(c, 'CreateSecret', { SecretName: 'app/created', VersionId: 'c1', SecretDataType: 'text' }, { SecretData: 'first = value & more!*()' });
  t.like(created, { SecretName: 'app/created', VersionId: 'c1', SecretType: 'Generic' });
  const put = await rpc(c, 'PutSecretValue', { SecretName: 'app/created', VersionId: 'c2' }, { SecretData: BINARY.toString('base64'), SecretDataType: 'binary' });
  t.deepEqual(put, { RequestId: put.RequestId, SecretName: 'app/created', VersionId: 'c2', VersionStages: { VersionStage: ['ACSCurrent'] } });
  const current = await rpc(c, 'GetSecretValue', { SecretName: 'app/created' });
  t.like(current, { VersionId: 'c2', SecretDataType: 'binary', SecretData: BINARY.toString('base64') });
  t.is((await rpc(c, 'GetSecretValue', { SecretName: 'app/created', VersionStage: 'ACSPrevious' })).SecretData, 'first = value & more!*()');
  await rpc(c, 'UpdateSecretVersionStage', { SecretName: 'app/created', VersionStage: 'ACSCurrent', MoveToVersion: 'c1' });
  t.is((await rpc(c, 'GetSecretValue', { SecretName: 'app/created' })).VersionId, 'c1');

  const managed = await rpc(c, 'CreateSecret', {
    SecretName: 'app/rds2',
    VersionId: 'm1',
    SecretType: 'Rds',
    EnableAutomaticRotation: true,
    RotationInterval: '30d',
    ExtendedConfig: JSON.stringify({ SecretSubType: 'SingleUser', DBInstanceId: 'rm-2' }),
  }, { SecretData: JSON.stringify({ AccountName: 'a', AccountPassword: 'b' }) });
  t.like(managed, { SecretType: 'Rds', AutomaticRotation: 'Enabled', RotationInterval: '2592000s' });

  const described = await rpc(c, 'DescribeSecret', { SecretName: 'app/rds2' });
  t.like(described, { SecretName: 'app/rds2', SecretType: 'Rds', AutomaticRotation: 'Enabled', RotationInterval: '2592000s', Arn: 'acs:kms:cn-hangzhou:1234567890123456:secret/app/rds2' });
  const list = await rpc(c, 'ListSecrets', { PageSize: 2, PageNumber: 2 });
  t.like(list, { PageNumber: 2, PageSize: 2, TotalCount: 5 });
  t.deepEqual(list.SecretList.Secret.map((s: { SecretName: string }) => s.SecretName), ['app/rds', 'app/created']);

  // Delete with a recovery window: reads fail, then the secret is restorable; force removes it.
  const del = await rpc(c, 'DeleteSecret', { SecretName: 'app/text', RecoveryWindowInDays: '7' });
  t.true(Date.parse(del.PlannedDeleteTime) > Date.now() + 6 * 86_400_000);
  const pending = await sdkError(t, rpc(c, 'GetSecretValue', { SecretName: 'app/text' }));
  t.is(pending.code, 'Rejected.ResourceInDeleteWindow');
  t.is(pending.statusCode, 409);
  await rpc(c, 'DeleteSecret', { SecretName: 'app/created', ForceDeleteWithoutRecovery: 'true' });
  const gone = await sdkError(t, rpc(c, 'GetSecretValue', { SecretName: 'app/created' }));
  t.is(gone.code, 'Forbidden.ResourceNotFound');
  t.is(gone.statusCode, 404);

  t.true(emu.requestLog().every((r) => r.signatureVersion === signing));
}

for (const signing of ['v3', 'v1'] as const) {
  test(`callApi ${signing} over HTTP: the secret lifecycle`, async (t) => {
    await lifecycle(t, await startEmulator(t, { seed }), signing);
  });
  test(`callApi ${signing} over HTTPS with the CA pinned: the secret lifecycle`, async (t) => {
    const emu = await startEmulator(t, { seed, tls: { caCertPem: ca.certPem, caKeyPem: ca.keyPem } });
    t.is(emu.regions['cn-hangzhou']!.protocol, 'https');
    t.is(emu.caPem, ca.certPem);
    await lifecycle(t, emu, signing);
  });
}

test('HTTPS without the CA pinned is refused by the client; the certificate covers loopback and extra names', async (t) => {
  const emu = await startEmulator(t, { seed, tls: { caCertPem: ca.certPem, caKeyPem: ca.keyPem, extraDnsNames: ['kst-hzz65f1a2b3c4d5e6.cryptoservice.kms.aliyuncs.com'] } });
  const unpinned = openApiClient(emu, 'v3', undefined, undefined, { ca: undefined });
  const e = await sdkError(t, rpc(unpinned, 'GetSecretValue', { SecretName: 'app/text' }));
  t.regex(String(e.code), /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN/);

  const san = await new Promise<string>((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: emu.regions['cn-hangzhou']!.port, ca: emu.caPem, servername: 'localhost' }, () => {
      resolve(socket.getPeerCertificate().subjectaltname ?? "");
      socket.end();
    });
    socket.on('error', reject);
  });
  for (const name of ['DNS:localhost', 'IP Address:127.0.0.1', 'IP Address:0:0:0:0:0:0:0:1', 'DNS:kst-hzz65f1a2b3c4d5e6.cryptoservice.kms.aliyuncs.com']) t.true(san.includes(name), `${name} in ${san}`);
});

test('the version must be 2016-01-20 and the action must exist', async (t) => {
  const emu = await startEmulator(t, { seed });
  const c = openApiClient(emu, 'v3');
  const version = await sdkError(t, rpc(c, 'GetSecretValue', { SecretName: 'app/text' }, undefined, '2015-04-01'));
  t.is(version.code, 'InvalidVersion');
  const action = await sdkError(t, rpc(c, 'GetSecretValues', { SecretName: 'app/text' }));
  t.is(action.code, 'InvalidAction.NotFound');
  t.is(action.statusCode, 400);
  t.is(emu.counters().Unknown, 1, 'unknown actions are counted under one key, so counters stay bounded');
  const missing = await sdkError(t, rpc(c, 'GetSecretValue', {}));
  t.is(missing.code, 'MissingSecretName');
});
