/**
 * The legacy `@alicloud/kms20160120` 1.2.0 client (rpc-client, V1 HMAC-SHA1, HTTP: it has no CA
 * option) reads, writes, re-stages and deletes secrets through the emulator, and its own response
 * models accept every answer ($tea.cast throws on a wrongly shaped field).
 */
import test from 'ava';
import * as K from '@alicloud/kms20160120';
import { AK, legacyClient, sdkError, startEmulator } from './helpers';

const seed = {
  secrets: [
    { name: 'legacy/text', description: 'first', versions: [{ versionId: 'v1', stages: ['ACSCurrent'], text: 'hunter2 with spaces & symbols !*()' }] },
    { name: 'legacy/binary', versions: [{ versionId: 'b1', stages: ['ACSCurrent'], binaryBase64: Buffer.from([0, 255, 1, 254]).toString('base64') }] },
  ],
};

test('GetSecretValue: text and binary values and stages come through the legacy model', async (t) => {
  const emu = await startEmulator(t, { seed });
  const kms = legacyClient(emu);
  const text = await kms.getSecretValue(new K.GetSecretValueRequest({ secretName: 'legacy/text' }));
  t.is(text.secretData, 'hunter2 with spaces & symbols !*()');
  t.is(text.secretDataType, 'text');
  t.is(text.versionId, 'v1');
  t.deepEqual(text.versionStages.versionStage, ['ACSCurrent']);
  t.regex(text.createTime, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);

  const bin = await kms.getSecretValue(new K.GetSecretValueRequest({ secretName: 'legacy/binary' }));
  t.is(bin.secretDataType, 'binary');
  t.deepEqual(Buffer.from(bin.secretData, 'base64'), Buffer.from([0, 255, 1, 254]));
  t.deepEqual(emu.counters(), { GetSecretValue: 2 });
  t.true(emu.requestLog().every((r) => r.signatureVersion === 'v1' && r.code === 'OK'));
});

test('CreateSecret, PutSecretValue and UpdateSecretVersionStage move ACSCurrent/ACSPrevious as KMS does', async (t) => {
  const emu = await startEmulator(t);
  const kms = legacyClient(emu);
  const created = await kms.createSecret(new K.CreateSecretRequest({ secretName: 'legacy/new', versionId: 'v1', secretData: 'one', secretDataType: 'text', description: 'made by the legacy client' }));
  t.is(created.arn, 'acs:kms:cn-hangzhou:1234567890123456:secret/legacy/new');
  t.is(created.versionId, 'v1');

  const put2 = await kms.putSecretValue(new K.PutSecretValueRequest({ secretName: 'legacy/new', versionId: 'v2', secretData: 'two' }));
  t.deepEqual(put2.versionStages.versionStage, ['ACSCurrent']);
  await kms.putSecretValue(new K.PutSecretValueRequest({ secretName: 'legacy/new', versionId: 'v3', secretData: 'three', versionStages: '["ACSCurrent"]' }));

  const stagesOf = async () => {
    const r = await kms.listSecretVersionIds(new K.ListSecretVersionIdsRequest({ secretName: 'legacy/new', includeDeprecated: 'true' }));
    return Object.fromEntries(r.versionIds.versionId.map((v) => [v.versionId, v.versionStages.versionStage]));
  };
  t.deepEqual(await stagesOf(), { v1: [], v2: ['ACSPrevious'], v3: ['ACSCurrent'] });
  const current = await kms.listSecretVersionIds(new K.ListSecretVersionIdsRequest({ secretName: 'legacy/new' }));
  t.deepEqual(current.versionIds.versionId.map((v) => v.versionId), ['v2', 'v3'], 'deprecated versions are hidden by default');
  t.is(current.totalCount, 2);

  // Roll back: ACSCurrent to v2 hands ACSPrevious to v3.
  await kms.updateSecretVersionStage(new K.UpdateSecretVersionStageRequest({ secretName: 'legacy/new', versionStage: 'ACSCurrent', removeFromVersion: 'v3', moveToVersion: 'v2' }));
  t.deepEqual(await stagesOf(), { v1: [], v2: ['ACSCurrent'], v3: ['ACSPrevious'] });
  const now = await kms.getSecretValue(new K.GetSecretValueRequest({ secretName: 'legacy/new' }));
  t.is(now.secretData, 'two');
  const prev = await kms.getSecretValue(new K.GetSecretValueRequest({ secretName: 'legacy/new', versionStage: 'ACSPrevious' }));
  t.is(prev.secretData, 'three');
  const old = await kms.getSecretValue(new K.GetSecretValueRequest({ secretName: 'legacy/new', versionId: 'v1' }));
  t.is(old.secretData, 'one');
  t.deepEqual(old.versionStages.versionStage, []);

  // A custom stage can be attached and removed.
  await kms.updateSecretVersionStage(new K.UpdateSecretVersionStageRequest({ secretName: 'legacy/new', versionStage: 'canary', moveToVersion: 'v1' }));
  t.deepEqual((await stagesOf()).v1, ['canary']);
  await kms.updateSecretVersionStage(new K.UpdateSecretVersionStageRequest({ secretName: 'legacy/new', versionStage: 'canary', removeFromVersion: 'v1' }));
  t.deepEqual((await stagesOf()).v1, []);

  const e = await sdkError(t, kms.updateSecretVersionStage(new K.UpdateSecretVersionStageRequest({ secretName: 'legacy/new', versionStage: 'ACSCurrent', removeFromVersion: 'v2' })));
  t.is(e.code, 'InvalidParameterError', 'ACSCurrent can only be moved, never just removed');
});

test('duplicate VersionId: same value is an idempotent retry, a different value is Rejected.ResourceExist', async (t) => {
  const emu = await startEmulator(t, { seed });
  const kms = legacyClient(emu);
  await kms.putSecretValue(new K.PutSecretValueRequest({ secretName: 'legacy/text', versionId: 'v2', secretData: 'x' }));
  const again = await kms.putSecretValue(new K.PutSecretValueRequest({ secretName: 'legacy/text', versionId: 'v2', secretData: 'x' }));
  t.is(again.versionId, 'v2');
  const e = await sdkError(t, kms.putSecretValue(new K.PutSecretValueRequest({ secretName: 'legacy/text', versionId: 'v2', secretData: 'y' })));
  t.is(e.code, 'Rejected.ResourceExistError', 'the legacy client appends "Error" to the code');
  t.is(e.data?.Code, 'Rejected.ResourceExist');
  const dup = await sdkError(t, kms.createSecret(new K.CreateSecretRequest({ secretName: 'legacy/text', versionId: 'v1', secretData: 'z' })));
  t.is(dup.data?.Code, 'Rejected.ResourceExist');
});

test('DescribeSecret, ListSecrets paging, DeleteSecret with a recovery window, RestoreSecret', async (t) => {
  const emu = await startEmulator(t, { seed });
  const kms = legacyClient(emu);
  const d = await kms.describeSecret(new K.DescribeSecretRequest({ secretName: 'legacy/text' }));
  t.is(d.description, 'first');
  t.is(d.arn, 'acs:kms:cn-hangzhou:1234567890123456:secret/legacy/text');
  t.falsy(d.plannedDeleteTime);

  const page1 = await kms.listSecrets(new K.ListSecretsRequest({ pageNumber: 1, pageSize: 1 }));
  t.is(page1.totalCount, 2);
  t.deepEqual(page1.secretList.secret.map((s) => s.secretName), ['legacy/text']);
  const page2 = await kms.listSecrets(new K.ListSecretsRequest({ pageNumber: 2, pageSize: 1 }));
  t.deepEqual(page2.secretList.secret.map((s) => s.secretName), ['legacy/binary']);

  const del = await kms.deleteSecret(new K.DeleteSecretRequest({ secretName: 'legacy/text', recoveryWindowInDays: '7' }));
  t.regex(del.plannedDeleteTime, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  const read = await sdkError(t, kms.getSecretValue(new K.GetSecretValueRequest({ secretName: 'legacy/text' })));
  t.is(read.code, 'Rejected.ResourceInDeleteWindowError');
  const write = await sdkError(t, kms.putSecretValue(new K.PutSecretValueRequest({ secretName: 'legacy/text', versionId: 'v9', secretData: 'x' })));
  t.is(write.code, 'Rejected.ResourceInDeleteWindowError');
  const pending = await kms.describeSecret(new K.DescribeSecretRequest({ secretName: 'legacy/text' }));
  t.is(pending.plannedDeleteTime, del.plannedDeleteTime);
  const listed = await kms.listSecrets(new K.ListSecretsRequest({}));
  t.is(listed.secretList.secret.find((s) => s.secretName === 'legacy/text')?.plannedDeleteTime, del.plannedDeleteTime);

  await kms.restoreSecret(new K.RestoreSecretRequest({ secretName: 'legacy/text' }));
  t.is((await kms.getSecretValue(new K.GetSecretValueRequest({ secretName: 'legacy/text' }))).versionId, 'v1');

  await kms.deleteSecret(new K.DeleteSecretRequest({ secretName: 'legacy/binary', forceDeleteWithoutRecovery: 'true' }));
  const gone = await sdkError(t, kms.getSecretValue(new K.GetSecretValueRequest({ secretName: 'legacy/binary' })));
  t.is(gone.code, 'Forbidden.ResourceNotFoundError');
  t.is(gone.data?.HostId, 'kms.cn-hangzhou.aliyuncs.com');
  t.truthy(gone.data?.RequestId);
  t.regex(gone.data?.Recommend ?? '', /^https:\/\/api\.aliyun\.com\/troubleshoot\?q=Forbidden\.ResourceNotFound&product=Kms&requestId=/);
});

test('a secret can be read by ARN, and a wrong AccessKey secret is SignatureDoesNotMatch', async (t) => {
  const emu = await startEmulator(t, { seed });
  const byArn = await legacyClient(emu).getSecretValue(new K.GetSecretValueRequest({ secretName: 'acs:kms:cn-hangzhou:1234567890123456:secret/legacy/text' }));
  t.is(byArn.secretName, 'legacy/text');
  const e = await sdkError(t, legacyClient(emu, { accessKeyId: AK.id, accessKeySecret: 'wrong' }).getSecretValue(new K.GetSecretValueRequest({ secretName: 'legacy/text' })));
  t.is(e.code, 'SignatureDoesNotMatchError');
  t.regex(e.data?.Message ?? '', /^Specified signature does not match our calculation\. server string to sign is:POST&%2F&AccessKeyId%3Dfidelity-ak%26Action%3DGetSecretValue/);
});
