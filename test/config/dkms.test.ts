/**
 * `cache_client_dkms_config_info`, as the v1 secrets-manager clients read it: the ClientKey is
 * opened at startup (here the Java SDK's test ClientKey, password 1234), a bad entry stops startup
 * naming the entry and field, and nothing of the key or password reaches an error or the config
 * object's printed form.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import test from 'ava';
import { loadConfig } from '../../src/config/load';
import { ConfigError } from '../../src/errors';
import { CLIENT_KEY_JSON, CLIENT_KEY_PASSWORD } from '../kms/fixtures/dkmsJavaVector';

const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const WRONG = 'WRONG-password-SENTINEL-3e1';
const ENDPOINT = 'kst-hzz65f1a2b3c4d5e6.cryptoservice.kms.aliyuncs.com';

function files(): string {
  const d = mkdtempSync(join(tmpdir(), 'sg-dkms-'));
  writeFileSync(join(d, 'clientKey.json'), CLIENT_KEY_JSON);
  writeFileSync(join(d, 'password.txt'), `${CLIENT_KEY_PASSWORD}\r\n`);
  writeFileSync(join(d, 'wrong.txt'), WRONG);
  writeFileSync(join(d, 'ca.pem'), CA);
  return d;
}

const entry = (over: Record<string, unknown> = {}) => ({ regionId: 'cn-hangzhou', endpoint: ENDPOINT, clientKeyFile: 'clientKey.json', passwordFromFilePath: 'password.txt', caFilePath: 'ca.pem', ...over });
const env = (entries: unknown[], more: Record<string, string> = {}) => ({ cache_client_dkms_config_info: JSON.stringify(entries), ...more });

test('a v1 entry becomes a ClientKey target, ahead of cache_client_region_id targets', (t) => {
  const d = files();
  const c = loadConfig({ mode: 'dev', cwd: d, env: env([entry({ endpoint: `https://${ENDPOINT}` })], { cache_client_region_id: '[{"regionId":"cn-shanghai"}]' }) });
  t.deepEqual(c.kms.targets.map((x) => x.id), [`cn-hangzhou/${ENDPOINT}`, 'cn-shanghai/kms.cn-shanghai.aliyuncs.com']);
  const [k, r] = c.kms.targets;
  t.like(k, { kind: 'dedicated', protocol: 'https', endpoint: ENDPOINT, caPem: CA, clientKey: { file: join(d, 'clientKey.json'), password: { kind: 'file', path: join(d, 'password.txt') } } });
  t.is(k!.insecureSkipVerify, undefined);
  t.is(r!.clientKey, undefined);
});

test('the password can come from the environment variable passwordFromEnvVariable names; it never shows when the config is printed', (t) => {
  const d = files();
  const c = loadConfig({ mode: 'serve', cwd: d, env: env([entry({ passwordFromFilePath: undefined, passwordFromEnvVariable: 'MY_CLIENT_KEY_PASSWORD' })], { MY_CLIENT_KEY_PASSWORD: CLIENT_KEY_PASSWORD, SECRETS_GATEWAY_ALLOW_IN_MEMORY_CACHE: 'true', SECRETS_GATEWAY_ALLOW_PLAINTEXT: 'true', SECRETS_GATEWAY_ALLOW_ALL_CALLERS: 'true' }) });
  const pw = c.kms.targets[0]!.clientKey!.password;
  t.is(pw.kind, 'value');
  t.is((pw as { value: string }).value, CLIENT_KEY_PASSWORD);
  for (const printed of [JSON.stringify(c), inspect(c, { depth: 10 })]) t.false(printed.includes(`'${CLIENT_KEY_PASSWORD}'`) || printed.includes(`"${CLIENT_KEY_PASSWORD}"`));
});

test('ignoreSslCerts=true runs in dev (no CA needed) and is refused by serve', (t) => {
  const d = files();
  const dev = loadConfig({ mode: 'dev', cwd: d, env: env([entry({ caFilePath: undefined, ignoreSslCerts: true })]) });
  t.true(dev.kms.targets[0]!.insecureSkipVerify);
  const err = t.throws(() => loadConfig({ mode: 'serve', cwd: d, env: env([entry({ ignoreSslCerts: 'true' })], { SECRETS_GATEWAY_ALLOW_IN_MEMORY_CACHE: 'true', SECRETS_GATEWAY_ALLOW_PLAINTEXT: 'true', SECRETS_GATEWAY_ALLOW_ALL_CALLERS: 'true' }) }), { instanceOf: ConfigError });
  t.is(err.setting, 'cache_client_dkms_config_info[0].ignoreSslCerts');
});

type Case = { name: string; entries: unknown; env?: Record<string, string>; setting: string; reason?: RegExp };
const second = (over: Record<string, unknown>) => [entry({ endpoint: 'kst-a.cryptoservice.kms.aliyuncs.com' }), entry(over)];
const invalid: Case[] = [
  { name: 'no clientKeyFile', entries: second({ clientKeyFile: undefined }), setting: 'cache_client_dkms_config_info[1].clientKeyFile', reason: /is required/ },
  { name: 'clientKeyFile missing on disk', entries: [entry({ clientKeyFile: 'nope.json' })], setting: 'cache_client_dkms_config_info[0].clientKeyFile', reason: /ENOENT/ },
  { name: 'clientKeyFile not a ClientKey', entries: [entry({ clientKeyFile: 'ca.pem' })], setting: 'cache_client_dkms_config_info[0].clientKeyFile', reason: /not a ClientKey JSON/ },
  { name: 'wrong password', entries: [entry({ passwordFromFilePath: 'wrong.txt' })], setting: 'cache_client_dkms_config_info[0].passwordFromFilePath', reason: /does not open the ClientKey/ },
  { name: 'no password source', entries: [entry({ passwordFromFilePath: undefined })], setting: 'cache_client_dkms_config_info[0].passwordFromFilePath' },
  { name: 'password env var unset', entries: [entry({ passwordFromFilePath: undefined, passwordFromEnvVariable: 'UNSET_PW_VAR' })], setting: 'cache_client_dkms_config_info[0].passwordFromEnvVariable', reason: /UNSET_PW_VAR is not set/ },
  { name: 'wrong password from env', entries: [entry({ passwordFromFilePath: undefined, passwordFromEnvVariable: 'PW' })], env: { PW: WRONG }, setting: 'cache_client_dkms_config_info[0].passwordFromEnvVariable' },
  { name: 'both password sources', entries: [entry({ passwordFromEnvVariable: 'PW' })], setting: 'cache_client_dkms_config_info[0].passwordFromEnvVariable', reason: /conflicts/ },
  { name: 'no CA', entries: [entry({ caFilePath: undefined })], setting: 'cache_client_dkms_config_info[0].caFilePath', reason: /PrivateKmsCA/ },
  { name: 'no endpoint', entries: [entry({ endpoint: undefined })], setting: 'cache_client_dkms_config_info[0].endpoint' },
  { name: 'endpoint with a path', entries: [entry({ endpoint: 'https://kst-a.cryptoservice.kms.aliyuncs.com/x' })], setting: 'cache_client_dkms_config_info[0].endpoint' },
  { name: 'bad regionId', entries: [entry({ regionId: 'CN Hangzhou' })], setting: 'cache_client_dkms_config_info[0].regionId' },
  { name: 'instance SDK alias', entries: [entry({ ignoreSSL: true })], setting: 'cache_client_dkms_config_info[0].ignoreSSL', reason: /use ignoreSslCerts/ },
  { name: 'unknown field', entries: [entry({ clientKeyPath: 'x' })], setting: 'cache_client_dkms_config_info[0].clientKeyPath', reason: /unknown field/ },
  { name: 'not an object', entries: ['x'], setting: 'cache_client_dkms_config_info[0]' },
  { name: 'same instance twice', entries: [entry(), entry()], setting: 'cache_client_dkms_config_info', reason: /twice/ },
];

for (const c of invalid) {
  test(`invalid dkms entry: ${c.name} → error names ${c.setting}`, (t) => {
    const err = t.throws(() => loadConfig({ mode: 'dev', cwd: files(), env: { ...env(c.entries as unknown[]), ...c.env } }), { instanceOf: ConfigError });
    t.is(err.setting, c.setting);
    t.true(err.message.startsWith(`${c.setting}: `), err.message);
    if (c.reason) t.regex(err.message, c.reason);
    for (const s of [WRONG, 'MIIJ', `"${CLIENT_KEY_PASSWORD}"`]) t.false(err.message.includes(s), `no secret in: ${err.message}`);
  });
}
