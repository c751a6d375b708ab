/**
 * STS flows against the emulator with the real `@alicloud/credentials` providers, then KMS calls
 * signed with the issued session (key + SecurityToken), V3 and V1. The ram_role_arn / oidc_role_arn
 * providers are hard-wired to https with no CA option, so they run in a child process with
 * NODE_EXTRA_CA_CERTS pointing at a CA file made beforehand, as a dedicated-instance CA would be.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { testRunEnv } from '../helpers/clock';
import test from 'ava';
import Credential, { Config as CredentialConfig } from '@alicloud/credentials';
import * as K from '@alicloud/kms20160120';
import { createTestCa } from '@secrets-gateway/kms-emulator';
import { legacyClient, openApiClient, rpc, sdkError, sendRaw, startEmulator } from './helpers';

const run = promisify(execFile);
const seed = { secrets: [{ name: 'app/text', versions: [{ versionId: 'v1', stages: ['ACSCurrent'], text: 'sts-read-value' }] }] };
const ROLE = 'acs:ram::1234567890123456:role/kms-reader';

test('credentials_uri (@alicloud/credentials) issues an STS session that signs KMS calls, V3 and V1', async (t) => {
  const emu = await startEmulator(t, { seed });
  const credential = new Credential(new CredentialConfig({ type: 'credentials_uri', credentialsURI: `http://${emu.regions['cn-hangzhou']!.endpoint}/creds` }));
  const session = await credential.getCredential();
  t.regex(session.accessKeyId!, /^STS\./);
  t.truthy(session.securityToken);
  for (const signing of ['v3', 'v1'] as const) {
    const body = await rpc(openApiClient(emu, signing, { credential }), 'GetSecretValue', { SecretName: 'app/text' });
    t.is(body.SecretData, 'sts-read-value');
  }
  const kmsCalls = emu.requestLog().filter((r) => r.action === 'GetSecretValue');
  t.deepEqual(kmsCalls.map((r) => [r.signatureVersion, r.credential, r.code]), [['v3', 'sts', 'OK'], ['v1', 'sts', 'OK']]);
  t.true(emu.counters().CredentialsURI! >= 1);
});

test('AssumeRole (signed, 2015-04-01) returns Credentials whose key and token read secrets; the legacy client carries the token in the query', async (t) => {
  const frozen = Date.now();
  const emu = await startEmulator(t, { seed, stsSessionSeconds: 1800, clock: () => frozen });
  for (const signing of ['v1', 'v3'] as const) {
    const r = await rpc(openApiClient(emu, signing), 'AssumeRole', { RoleArn: ROLE, RoleSessionName: 'gw', DurationSeconds: 3600 }, undefined, '2015-04-01');
    const c = r.Credentials as { AccessKeyId: string; AccessKeySecret: string; SecurityToken: string; Expiration: string };
    t.regex(c.Expiration, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    t.is(Date.parse(c.Expiration), Math.floor((frozen + 1800_000) / 1000) * 1000, 'stsSessionSeconds overrides DurationSeconds');
    t.is(r.AssumedRoleUser.Arn, 'acs:ram::1234567890123456:assumed-role/kms-reader/gw');
    const sts = { accessKeyId: c.AccessKeyId, accessKeySecret: c.AccessKeySecret, securityToken: c.SecurityToken };
    t.is((await rpc(openApiClient(emu, 'v3', sts), 'GetSecretValue', { SecretName: 'app/text' })).SecretData, 'sts-read-value');
    t.is((await legacyClient(emu, sts).getSecretValue(new K.GetSecretValueRequest({ secretName: 'app/text' }))).secretData, 'sts-read-value');
  }
  const missing = await sdkError(t, rpc(openApiClient(emu, 'v1'), 'AssumeRole', { RoleSessionName: 'gw' }, undefined, '2015-04-01'));
  t.is(missing.code, 'MissingRoleArn');
  t.is(missing.data!.HostId, 'sts.aliyuncs.com');
  const wrongVersion = await sdkError(t, rpc(openApiClient(emu, 'v1'), 'AssumeRole', { RoleArn: ROLE, RoleSessionName: 'gw' }));
  t.is(wrongVersion.code, 'InvalidVersion');
});

test('AssumeRoleWithOIDC is anonymous and issues a working session', async (t) => {
  const emu = await startEmulator(t, { seed });
  const form = new URLSearchParams({ OIDCProviderArn: 'acs:ram::1234567890123456:oidc-provider/ack-rrsa', OIDCToken: 'eyJhbGciOiJSUzI1NiJ9.e30.sig', RoleArn: ROLE, RoleSessionName: 'gw', DurationSeconds: '3600' });
  const res = await sendRaw(emu.regions['cn-hangzhou']!.port, {
    method: 'POST',
    url: `/?Version=2015-04-01&Action=AssumeRoleWithOIDC&Format=JSON&Timestamp=${encodeURIComponent(new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'))}`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: Buffer.from(form.toString()),
  });
  t.is(res.status, 200);
  const c = res.json.Credentials as { AccessKeyId: string; AccessKeySecret: string; SecurityToken: string };
  const sts = { accessKeyId: c.AccessKeyId, accessKeySecret: c.AccessKeySecret, securityToken: c.SecurityToken };
  t.is((await rpc(openApiClient(emu, 'v3', sts), 'GetSecretValue', { SecretName: 'app/text' })).SecretData, 'sts-read-value');
  t.is(emu.requestLog()[0]!.credential, 'anonymous');
});

test('an STS key with a wrong or missing token is MismatchWithAccessKey; after expiry it is InvalidSecurityToken.Expired', async (t) => {
  let offsetMs = 0;
  const emu = await startEmulator(t, { seed, stsSessionSeconds: 900, clock: () => Date.now() + offsetMs });
  const doc = (await fetch(`http://${emu.regions['cn-hangzhou']!.endpoint}/creds`).then((r) => r.json())) as Record<string, string>;
  t.is(doc.Code, 'Success');
  t.regex(doc.LastUpdated!, /Z$/);
  const good = { accessKeyId: doc.AccessKeyId, accessKeySecret: doc.AccessKeySecret, securityToken: doc.SecurityToken };
  for (const signing of ['v3', 'v1'] as const) {
    const wrong = await sdkError(t, rpc(openApiClient(emu, signing, { ...good, securityToken: `${doc.SecurityToken}x` }), 'GetSecretValue', { SecretName: 'app/text' }));
    t.is(wrong.code, 'InvalidSecurityToken.MismatchWithAccessKey');
    const none = await sdkError(t, rpc(openApiClient(emu, signing, { accessKeyId: good.accessKeyId, accessKeySecret: good.accessKeySecret }), 'GetSecretValue', { SecretName: 'app/text' }));
    t.is(none.code, 'InvalidSecurityToken.MismatchWithAccessKey');
  }
  t.is((await rpc(openApiClient(emu, 'v3', good), 'GetSecretValue', { SecretName: 'app/text' })).VersionId, 'v1');
  offsetMs = 901_000; // past the 900 s session, still inside the 15-minute timestamp window
  const expired = await sdkError(t, rpc(openApiClient(emu, 'v3', good), 'GetSecretValue', { SecretName: 'app/text' }));
  t.is(expired.code, 'InvalidSecurityToken.Expired');
  t.is(expired.statusCode, 400);
});

const CHILD = `
const Credential = require('@alicloud/credentials');
const OpenApi = require('@alicloud/openapi-client');
const OpenApiUtil = require('@alicloud/openapi-util').default;
const KMS = require('@alicloud/kms20160120');
const { Config: RpcConfig } = require('@alicloud/rpc-client');
const [endpoint, tokenFile] = process.argv.slice(1);
const params = new OpenApi.Params({ action: 'GetSecretValue', version: '2016-01-20', protocol: 'HTTPS', pathname: '/', method: 'POST', authType: 'AK', style: 'RPC', reqBodyType: 'formData', bodyType: 'json' });
const read = (credential) => new OpenApi.default(new OpenApi.Config({ endpoint, protocol: 'https', credential }))
  .callApi(params, new OpenApi.OpenApiRequest({ query: OpenApiUtil.query({ SecretName: 'app/text' }) }), {})
  .then((r) => r.body.SecretData);
(async () => {
  const role = new Credential.default(new Credential.Config({ type: 'ram_role_arn', accessKeyId: 'fidelity-ak', accessKeySecret: 'fidelity-ak-secret-4d1c', roleArn: '${ROLE}', roleSessionName: 'gw', stsEndpoint: endpoint }));
  const oidc = new Credential.default(new Credential.Config({ type: 'oidc_role_arn', roleArn: '${ROLE}', oidcProviderArn: 'acs:ram::1234567890123456:oidc-provider/ack-rrsa', oidcTokenFilePath: tokenFile, roleSessionName: 'gw', stsEndpoint: endpoint }));
  const legacy = new KMS.default(new RpcConfig({ endpoint, protocol: 'https', accessKeyId: 'fidelity-ak', accessKeySecret: 'fidelity-ak-secret-4d1c', regionId: 'cn-hangzhou' }));
  const out = {
    ramRoleArn: await read(role),
    oidcRoleArn: await read(oidc),
    legacyHttps: (await legacy.getSecretValue(new KMS.GetSecretValueRequest({ secretName: 'app/text' }))).secretData,
  };
  process.stdout.write(JSON.stringify(out));
  process.exit(0);
})().catch((e) => { process.stdout.write(JSON.stringify({ error: e.message })); process.exit(1); });
`;

test('ram_role_arn and oidc_role_arn providers, and the legacy client over HTTPS, trust a CA file given by NODE_EXTRA_CA_CERTS', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'emu-sts-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // The CA exists before the child starts, as NODE_EXTRA_CA_CERTS is read once at process start.
  const ca = createTestCa();
  writeFileSync(join(dir, 'ca.pem'), ca.certPem);
  writeFileSync(join(dir, 'oidc-token'), 'eyJhbGciOiJSUzI1NiJ9.e30.sig');
  const emu = await startEmulator(t, { seed, tls: { caCertPem: ca.certPem, caKeyPem: ca.keyPem } });
  const env = { PATH: process.env.PATH, HOME: dir, NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem'), ALIBABA_CLOUD_ECS_METADATA_DISABLED: 'true', ...testRunEnv() };
  const { stdout } = await run(process.execPath, ['-e', CHILD, emu.regions['cn-hangzhou']!.endpoint, join(dir, 'oidc-token')], { cwd: process.cwd(), env, timeout: 60_000 });
  t.deepEqual(JSON.parse(stdout), { ramRoleArn: 'sts-read-value', oidcRoleArn: 'sts-read-value', legacyHttps: 'sts-read-value' });
  t.like(emu.counters(), { AssumeRole: 1, AssumeRoleWithOIDC: 1, GetSecretValue: 3 });
  const assume = emu.requestLog().find((r) => r.action === 'AssumeRole')!;
  t.deepEqual([assume.signatureVersion, assume.credential, assume.code], ['v1', 'ak', 'OK']);
});
