/**
 * Every credential flow the gateway supports, against the emulator over HTTPS. STS exchanges in
 * @alicloud/credentials are hard-wired to https with no CA option, so each flow runs in a child
 * process started with NODE_EXTRA_CA_CERTS = the emulator's CA, a temp HOME (no real profile
 * files) and ECS metadata disabled, so nothing can reach 100.100.100.200 or any other host.
 */
import { execFile } from 'node:child_process';
import { get } from 'node:https';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { testRunEnv } from '../helpers/clock';
import test, { type ExecutionContext } from 'ava';
import type { CredentialsConfig } from '../../src/config/types';
import { createTestCa } from '@secrets-gateway/kms-emulator';
import { emulatorTargets, startEmulator, TEST_AK } from '../helpers/kms';

const run = promisify(execFile);
const FIXTURE = join(__dirname, 'fixtures', 'credentialFlow.ts');
const seed = { secrets: [{ name: 'cred/test', versions: [{ versionId: 'v1', stages: ['ACSCurrent'], text: 'x' }] }] };

async function setup(t: ExecutionContext) {
  const dir = mkdtempSync(join(tmpdir(), 'sg-cred-'));
  const ca = createTestCa('secrets-gateway test CA');
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, ca.certPem);
  const emu = await startEmulator(t, { seed, tls: { caCertPem: ca.certPem, caKeyPem: ca.keyPem } });
  const target = emulatorTargets(emu)[0]!;
  const flow = async (credentials: CredentialsConfig, env: Record<string, string> = {}) => {
    try {
      const { stdout } = await run(process.execPath, ['--import', 'tsx', FIXTURE, JSON.stringify({ credentials, target, secretName: 'cred/test' })], {
        env: { PATH: process.env.PATH ?? '', HOME: dir, NODE_EXTRA_CA_CERTS: caFile, ALIBABA_CLOUD_ECS_METADATA_DISABLED: 'true', ...testRunEnv(), ...env },
        timeout: 60_000,
      });
      return JSON.parse(stdout.trim().split('\n').pop()!);
    } catch (e) {
      const out = (e as { stdout?: string }).stdout ?? '';
      return out ? JSON.parse(out.trim().split('\n').pop()!) : { ok: false, message: String(e) };
    }
  };
  return { emu, flow, dir, endpoint: target.endpoint };
}

const kmsCalls = (emu: { requestLog(): readonly { action: string; credential: string }[] }, credential: string) =>
  emu.requestLog().filter((r) => r.action === 'GetSecretValue' && r.credential === credential).length;

test('AccessKey (ak)', async (t) => {
  const { emu, flow } = await setup(t);
  t.like(await flow({ type: 'access_key', accessKeyId: TEST_AK.id, accessKeySecret: TEST_AK.secret }), { ok: true, versionId: 'v1' });
  t.is(kmsCalls(emu, 'ak'), 2);
});

test('the default chain reads ALIBABA_CLOUD_ACCESS_KEY_* from the environment', async (t) => {
  const { emu, flow } = await setup(t);
  const r = await flow({ type: 'default' }, { ALIBABA_CLOUD_ACCESS_KEY_ID: TEST_AK.id, ALIBABA_CLOUD_ACCESS_KEY_SECRET: TEST_AK.secret });
  t.like(r, { ok: true, versionId: 'v1' });
  t.is(kmsCalls(emu, 'ak'), 2);
});

test('credentials URI (a rotating STS session from an HTTP endpoint)', async (t) => {
  const { emu, flow, endpoint } = await setup(t);
  t.like(await flow({ type: 'credentials_uri', uri: `https://${endpoint}/creds` }), { ok: true });
  t.is(emu.requestLog().filter((r) => r.action === 'CredentialsURI').length, 1, 'the session is cached and reused');
  t.is(kmsCalls(emu, 'sts'), 2);
});

test('a static STS token (sts)', async (t) => {
  const { emu, flow, endpoint } = await setup(t);
  const doc = await new Promise<{ AccessKeyId: string; AccessKeySecret: string; SecurityToken: string }>((resolve, reject) =>
    get(`https://${endpoint}/creds`, { ca: emu.caPem }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c)).on('end', () => resolve(JSON.parse(body)));
    }).on('error', reject),
  );
  const r = await flow({ type: 'sts', accessKeyId: doc.AccessKeyId, accessKeySecret: doc.AccessKeySecret, securityToken: doc.SecurityToken });
  t.like(r, { ok: true, versionId: 'v1' });
  t.is(kmsCalls(emu, 'sts'), 2);
});

test('RamRoleArn: AssumeRole at the emulated STS endpoint, then KMS with the STS session', async (t) => {
  const { emu, flow, endpoint } = await setup(t);
  const r = await flow({
    type: 'ram_role_arn',
    accessKeyId: TEST_AK.id,
    accessKeySecret: TEST_AK.secret,
    roleArn: 'acs:ram::123456789012:role/kms-reader',
    roleSessionName: 'secrets-gateway',
    stsEndpoint: endpoint,
  });
  t.like(r, { ok: true, versionId: 'v1', again: 'v1' });
  t.is(emu.requestLog().filter((x) => x.action === 'AssumeRole').length, 1);
  t.is(kmsCalls(emu, 'sts'), 2);
});

test('OIDC role ARN (ACK RRSA): AssumeRoleWithOIDC with the token file, then KMS with the STS session', async (t) => {
  const { emu, flow, endpoint, dir } = await setup(t);
  const tokenFile = join(dir, 'oidc-token');
  writeFileSync(tokenFile, 'eyJhbGciOiJSUzI1NiJ9.test.jwt');
  const r = await flow({
    type: 'oidc_role_arn',
    roleArn: 'acs:ram::123456789012:role/kms-reader',
    oidcProviderArn: 'acs:ram::123456789012:oidc-provider/ack-rrsa-test',
    oidcTokenFilePath: tokenFile,
    roleSessionName: 'secrets-gateway',
    stsEndpoint: endpoint,
  });
  t.like(r, { ok: true, versionId: 'v1' });
  t.is(emu.requestLog().filter((x) => x.action === 'AssumeRoleWithOIDC').length, 1);
  t.is(kmsCalls(emu, 'sts'), 2);
});
