/**
 * `runKmsEmulatorCommand`: starts on the demo seed, prints endpoints, the CA path and ready-to-paste
 * gateway settings that work as printed (credentials_uri + pinned CA), prints no AccessKey secret,
 * and shuts down cleanly on its stop signal.
 */
import { existsSync, readFileSync } from 'node:fs';
import test, { type ExecutionContext } from 'ava';
import Credential, { Config as CredentialConfig } from '@alicloud/credentials';
import OpenApiClient, { Config as OpenApiConfig } from '@alicloud/openapi-client';
import { loadConfig } from '../../src/config/load';
import { runKmsEmulatorCommand } from '@secrets-gateway/kms-emulator';
import { KmsPool } from '../../src/kms/pool';
import { rpc } from './helpers';

/**
 * Runs the command until it has printed its gateway settings (stopped at teardown at the latest):
 * `out()` and `err()` read what it wrote so far, `stop()` ends it and resolves to its exit code.
 */
async function runUntilPrinted(t: ExecutionContext, args: string[]) {
  let out = '';
  let err = '';
  const signal = new AbortController();
  let printed!: () => void;
  const ready = new Promise<void>((resolve) => (printed = resolve));
  const exit = runKmsEmulatorCommand(args, {
    stdout: (s) => {
      out += s;
      if (out.includes('export credentials_uri=')) printed();
    },
    stderr: (s) => (err += s),
    signal: signal.signal,
  });
  t.teardown(() => signal.abort());
  const early = await Promise.race([ready.then(() => undefined), exit]);
  if (early !== undefined) throw new Error(`exited early with ${early}: ${err}`);
  return { out: () => out, err: () => err, stop: () => (signal.abort(), exit) };
}

test('kms-emulator prints working settings for two regions and stops cleanly', async (t) => {
  const { out, err, stop } = await runUntilPrinted(t, ['--regions', 'cn-hangzhou,cn-shanghai', '--access-key', 'extra-ak:extra-secret-SENTINEL']);

  const targets = JSON.parse(/^export cache_client_region_id='(.+)'$/m.exec(out())![1]!) as { regionId: string; endpoint: string; protocol: string; caFilePath: string }[];
  t.deepEqual(targets.map((x) => [x.regionId, x.protocol]), [['cn-hangzhou', 'https'], ['cn-shanghai', 'https']]);
  const caPem = readFileSync(targets[0]!.caFilePath, 'utf8');
  t.true(caPem.startsWith('-----BEGIN CERTIFICATE-----'));
  const credentialsUri = /^export credentials_uri=(\S+)$/m.exec(out())![1]!;
  t.regex(out(), /^export credentials_type=credentials_uri$/m);

  // Use the settings exactly as printed: STS from the credentials URI, the CA file pinned.
  const credential = new Credential(new CredentialConfig({ type: 'credentials_uri', credentialsURI: credentialsUri }));
  for (const target of targets) {
    const client = new OpenApiClient(new OpenApiConfig({ endpoint: target.endpoint, protocol: 'https', ca: caPem, credential }));
    const body = await rpc(client, 'GetSecretValue', { SecretName: 'demo/db-password' });
    t.is(body.VersionId, 'v2');
  }
  t.regex(out(), /# or: credentials_type=ak credentials_access_key_id=dev-ak credentials_access_secret=<its secret>/);
  for (const secret of ['dev-secret-not-for-production', 'extra-secret-SENTINEL', 's3cr3t-passw0rd']) {
    t.false(out().includes(secret), 'stdout carries no secret');
    t.false(err().includes(secret), 'log lines carry no secret');
  }
  t.regex(err(), /"msg":"kms emulator request"/);

  t.is(await stop(), 0);
  t.false(existsSync(targets[0]!.caFilePath), 'the temporary CA file is removed on exit');
  t.regex(err(), /kms emulator stopped/);
});

test('kms-emulator rejects bad flags with usage (exit 2) and a bad seed with its field (exit 1)', async (t) => {
  let err = '';
  t.is(await runKmsEmulatorCommand(['--bogus'], { stderr: (s) => (err += s) }), 2);
  t.regex(err, /usage: secrets-gateway kms-emulator/);
  err = '';
  t.is(await runKmsEmulatorCommand(['--port', 'eighty'], { stderr: (s) => (err += s) }), 2);
  t.regex(err, /--port must be a port number/);
  err = '';
  t.is(await runKmsEmulatorCommand(['--seed', 'package.json', '--http'], { stderr: (s) => (err += s) }), 1);
  t.regex(err, /seed\.\w+: unknown field/);
  let out = '';
  t.is(await runKmsEmulatorCommand(['--help'], { stdout: (s) => (out += s) }), 0);
  t.regex(out, /--access-key ID:SECRET/);
});

test('kms-emulator --instance --print-settings prints a cache_client_dkms_config_info that works as printed, and no password', async (t) => {
  const { out, err, stop } = await runUntilPrinted(t, ['--instance', 'kst-cli1', '--print-settings']);
  t.true(out().startsWith('# point a gateway at it:'), 'only the settings on stdout');
  t.regex(err(), /instance kst-cli1 +https:\/\/127\.0\.0\.1:\d+ \(certificate name kst-cli1\.cryptoservice\.kms\.aliyuncs\.com\)/);

  const dkms = /^export cache_client_dkms_config_info='(.+)'$/m.exec(out())![1]!;
  const entries = JSON.parse(dkms) as { clientKeyFile: string; passwordFromFilePath: string }[];
  const password = readFileSync(entries[0]!.passwordFromFilePath, 'utf8');
  t.false(out().includes(password) || err().includes(password), 'the password is only in its file');
  const config = loadConfig({ mode: 'serve', env: { cache_client_dkms_config_info: dkms, SECRETS_GATEWAY_ALLOW_IN_MEMORY_CACHE: 'true', SECRETS_GATEWAY_ALLOW_PLAINTEXT: 'true', SECRETS_GATEWAY_ALLOW_ALL_CALLERS: 'true' } });
  const s = await new KmsPool({ config: config.kms }).getSecretValue({ name: 'demo/db-password' });
  t.is(s.versionId, 'v2');

  t.is(await stop(), 0);
  t.false(existsSync(entries[0]!.clientKeyFile), 'the temporary ClientKey is removed on exit');
});
