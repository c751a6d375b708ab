/**
 * Secrets never leak: after reads, writes, rotations, STS sessions and failed signatures, no
 * secret value, AccessKey secret or STS token appears in the request log, the admin state, the
 * logger's lines or any error body the emulator answered.
 */
import test from 'ava';
import * as K from '@alicloud/kms20160120';
import { percentEncode } from '@secrets-gateway/kms-emulator';
import { createLogger } from '../../src/telemetry/logger';
import { admin, legacyClient, openApiClient, rpc, sdkError, startEmulator } from './helpers';

const VALUE = 'SENTINEL-9f3b2c7e-value';
const PUT_VALUE = 'SENTINEL-9f3b2c7e-put';
const AK_SECRET = 'SENTINEL-9f3b2c7e-aksecret';

test('no secret value, AccessKey secret or STS token in the request log, admin state, log lines or error bodies', async (t) => {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', sink: (l) => lines.push(l) });
  const emu = await startEmulator(t, {
    logger,
    adminPort: 0,
    accessKeys: { 'sentinel-ak': AK_SECRET },
    seed: {
      secrets: [
        { name: 'app/sentinel', versions: [{ versionId: 'v1', stages: ['ACSCurrent'], text: VALUE }] },
        {
          name: 'app/rds',
          type: 'Rds',
          extendedConfig: { SecretSubType: 'SingleUser', DBInstanceId: 'rm-x' },
          versions: [{ versionId: 'r1', json: { AccountName: 'app', AccountPassword: VALUE } }],
        },
      ],
    },
  });
  const creds = { accessKeyId: 'sentinel-ak', accessKeySecret: AK_SECRET };
  const errors: unknown[] = [];
  const forbidden = new Set([VALUE, PUT_VALUE, AK_SECRET]);

  for (const signing of ['v3', 'v1'] as const) {
    const c = openApiClient(emu, signing, creds);
    t.is((await rpc(c, 'GetSecretValue', { SecretName: 'app/sentinel', VersionId: 'v1' })).SecretData, VALUE);
    await rpc(c, 'PutSecretValue', { SecretName: 'app/sentinel', VersionId: `put-${signing}` }, { SecretData: PUT_VALUE });
    const rotated = await rpc(c, 'RotateSecret', { SecretName: 'app/rds', VersionId: `rot-${signing}` });
    const fresh = await rpc(c, 'GetSecretValue', { SecretName: 'app/rds', VersionId: rotated.VersionId });
    forbidden.add(JSON.parse(fresh.SecretData).AccountPassword);
    errors.push((await sdkError(t, rpc(openApiClient(emu, signing, { ...creds, accessKeySecret: 'wrong' }), 'GetSecretValue', { SecretName: 'app/sentinel' }))).data);

    // An STS session: its secret and token are forbidden too, even in a failed signature's string-to-sign.
    const doc = (await fetch(`http://${emu.regions['cn-hangzhou']!.endpoint}/creds`).then((r) => r.json())) as Record<string, string>;
    forbidden.add(doc.AccessKeySecret!).add(doc.SecurityToken!);
    const sts = { accessKeyId: doc.AccessKeyId, accessKeySecret: doc.AccessKeySecret, securityToken: doc.SecurityToken };
    t.is((await rpc(openApiClient(emu, signing, sts), 'GetSecretValue', { SecretName: 'app/sentinel' })).SecretData, PUT_VALUE);
    const bad = await sdkError(t, rpc(openApiClient(emu, signing, { ...sts, accessKeySecret: 'wrong' }), 'GetSecretValue', { SecretName: 'app/sentinel' }));
    t.is(bad.code, 'SignatureDoesNotMatch');
    errors.push(bad.data);
    const assumed = await rpc(openApiClient(emu, signing, creds), 'AssumeRole', { RoleArn: 'acs:ram::1234567890123456:role/r', RoleSessionName: 's' }, undefined, '2015-04-01');
    forbidden.add(assumed.Credentials.AccessKeySecret).add(assumed.Credentials.SecurityToken);
  }
  const legacy = legacyClient(emu, creds);
  t.is((await legacy.getSecretValue(new K.GetSecretValueRequest({ secretName: 'app/sentinel', versionId: 'v1' }))).secretData, VALUE);
  errors.push((await sdkError(t, legacy.putSecretValue(new K.PutSecretValueRequest({ secretName: 'app/sentinel', versionId: 'v1', secretData: PUT_VALUE })))).data);
  errors.push((await sdkError(t, legacy.createSecret(new K.CreateSecretRequest({ secretName: 'app/bin', versionId: 'v1', secretData: PUT_VALUE, secretDataType: 'binary' })))).data);
  await admin(emu, 'POST', '/admin/put-secret-value', { name: 'app/sentinel', versionId: 'admin-v', text: PUT_VALUE });
  errors.push((await admin(emu, 'POST', '/admin/put-secret-value', { name: 'app/sentinel', versionId: 'admin-v', text: `${PUT_VALUE}-different` })).json);

  const state = (await admin(emu, 'GET', '/admin/state')).text;
  const surfaces: Record<string, string> = {
    requestLog: JSON.stringify(emu.requestLog()),
    adminState: state,
    logLines: lines.join('\n'),
    errorBodies: JSON.stringify(errors),
  };
  t.true(emu.requestLog().length > 15);
  t.true(lines.length > 15);
  t.true(errors.length >= 6);
  for (const [surface, text] of Object.entries(surfaces)) {
    for (const secret of forbidden) {
      // Also as the V1 string-to-sign would carry it: percent-encoded once or twice.
      for (const form of [secret, percentEncode(secret), percentEncode(percentEncode(secret))]) {
        t.false(text.includes(form), `${surface} contains a secret (${secret.slice(0, 12)}…)`);
      }
    }
    t.false(text.includes('SENTINEL-9f3b2c7e'), `${surface} contains a sentinel`);
  }
  t.true(surfaces.errorBodies!.includes('server string to sign is:'), 'the string-to-sign is still echoed, with the token masked');
});
