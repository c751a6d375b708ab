import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { loadConfig } from '../../src/config/load';
import { ConfigError } from '../../src/errors';

const dir = () => mkdtempSync(join(tmpdir(), 'sg-config-'));
const SENTINEL = 'SENTINEL-secret-7d1e0c';

const SERVE_BASE = { cache_client_region_id: '[{"regionId":"cn-hangzhou"}]', SECRETS_GATEWAY_REDIS_URL: 'rediss://:pw@127.0.0.1:6380', SECRETS_GATEWAY_CACHE_SEAL_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}` };
type Case = { name: string; env: Record<string, string>; mode?: 'dev' | 'serve'; setting: string; reason?: RegExp };

const invalid: Case[] = [
  { name: 'unknown gateway variable', env: { SECRETS_GATEWAY_LISTN: '1' }, setting: 'SECRETS_GATEWAY_LISTN', reason: /did you mean SECRETS_GATEWAY_LISTEN/ },
  { name: 'unknown Alibaba client key', env: { credentials_acess_key_id: 'x' }, setting: 'credentials_acess_key_id' },
  { name: 'listen without port', env: { SECRETS_GATEWAY_LISTEN: '127.0.0.1' }, setting: 'SECRETS_GATEWAY_LISTEN', reason: /host:port/ },
  { name: 'listen port out of range', env: { SECRETS_GATEWAY_LISTEN: '127.0.0.1:70000' }, setting: 'SECRETS_GATEWAY_LISTEN' },
  { name: 'redis url scheme', env: { SECRETS_GATEWAY_REDIS_URL: 'http://x' }, setting: 'SECRETS_GATEWAY_REDIS_URL' },
  { name: 'integer range', env: { SECRETS_GATEWAY_KMS_RETRY_MAX_ATTEMPTS: '0' }, setting: 'SECRETS_GATEWAY_KMS_RETRY_MAX_ATTEMPTS', reason: /1–10/ },
  { name: 'cap below base', env: { SECRETS_GATEWAY_KMS_RETRY_BASE_MS: '500', SECRETS_GATEWAY_KMS_RETRY_CAP_MS: '100' }, setting: 'SECRETS_GATEWAY_KMS_RETRY_CAP_MS' },
  { name: 'region list not JSON', env: { cache_client_region_id: '[{' }, setting: 'cache_client_region_id', reason: /JSON/ },
  { name: 'region without id', env: { cache_client_region_id: '[{"endpoint":"kms.x.aliyuncs.com"}]' }, setting: 'cache_client_region_id[0].regionId' },
  { name: 'unknown target field', env: { cache_client_region_id: '[{"regionId":"cn-hangzhou","endpiont":"x"}]' }, setting: 'cache_client_region_id[0].endpiont' },
  {
    name: 'dedicated target without a CA',
    env: { cache_client_region_id: '[{"regionId":"cn-hangzhou","endpoint":"kst-hzz1.cryptoservice.kms.aliyuncs.com"}]' },
    setting: 'cache_client_region_id[0].caFilePath',
    reason: /required for the dedicated KMS instance/,
  },
  { name: 'CA file missing', env: { cache_client_region_id: '[{"regionId":"cn-hangzhou","caFilePath":"/nonexistent/ca.pem"}]' }, setting: 'cache_client_region_id[0].caFilePath', reason: /ENOENT/ },
  { name: 'ak without secret', env: { credentials_type: 'ak', credentials_access_key_id: 'id' }, setting: 'credentials_access_secret' },
  { name: 'unknown credentials type', env: { credentials_type: 'magic' }, setting: 'credentials_type' },
  { name: 'v1 dkms config not a list', env: { cache_client_dkms_config_info: '{}' }, setting: 'cache_client_dkms_config_info', reason: /JSON array/ },
  { name: 'serve without targets', env: { SECRETS_GATEWAY_REDIS_URL: 'redis://127.0.0.1:6379' }, mode: 'serve', setting: 'cache_client_region_id' },
  { name: 'serve without TLS', env: { ...SERVE_BASE, SECRETS_GATEWAY_ALLOW_ALL_CALLERS: 'true' }, mode: 'serve', setting: 'SECRETS_GATEWAY_TLS_CERT_FILE', reason: /ALLOW_PLAINTEXT/ },
  { name: 'serve without a policy', env: { ...SERVE_BASE, SECRETS_GATEWAY_ALLOW_PLAINTEXT: 'true' }, mode: 'serve', setting: 'SECRETS_GATEWAY_POLICY_FILE', reason: /ALLOW_ALL_CALLERS/ },
  { name: 'serve over plaintext Redis', env: { ...SERVE_BASE, SECRETS_GATEWAY_REDIS_URL: 'redis://:pw@127.0.0.1:6379', SECRETS_GATEWAY_ALLOW_PLAINTEXT: 'true', SECRETS_GATEWAY_ALLOW_ALL_CALLERS: 'true' }, mode: 'serve', setting: 'SECRETS_GATEWAY_REDIS_URL', reason: /rediss/ },
  { name: 'serve with Redis without AUTH', env: { ...SERVE_BASE, SECRETS_GATEWAY_REDIS_URL: 'rediss://127.0.0.1:6380', SECRETS_GATEWAY_ALLOW_PLAINTEXT: 'true', SECRETS_GATEWAY_ALLOW_ALL_CALLERS: 'true' }, mode: 'serve', setting: 'SECRETS_GATEWAY_REDIS_URL', reason: /AUTH/ },
  { name: 'serve with KMS over http', env: { ...SERVE_BASE, cache_client_region_id: '[{"regionId":"cn-hangzhou","endpoint":"127.0.0.1:8080","protocol":"http"}]', SECRETS_GATEWAY_ALLOW_PLAINTEXT: 'true', SECRETS_GATEWAY_ALLOW_ALL_CALLERS: 'true' }, mode: 'serve', setting: 'cache_client_region_id', reason: /https/ },
  { name: 'serve with TLS checks off', env: { ...SERVE_BASE, NODE_TLS_REJECT_UNAUTHORIZED: '0', SECRETS_GATEWAY_ALLOW_PLAINTEXT: 'true', SECRETS_GATEWAY_ALLOW_ALL_CALLERS: 'true' }, mode: 'serve', setting: 'NODE_TLS_REJECT_UNAUTHORIZED' },
  { name: 'certificate without key', env: { SECRETS_GATEWAY_TLS_CERT_FILE: 'c.pem' }, setting: 'SECRETS_GATEWAY_TLS_KEY_FILE' },
  { name: 'client CA without TLS', env: { SECRETS_GATEWAY_TLS_CLIENT_CA_FILE: 'ca.pem' }, setting: 'SECRETS_GATEWAY_TLS_CLIENT_CA_FILE' },
  { name: 'JWKS without issuer', env: { SECRETS_GATEWAY_AUTH_JWKS_FILE: 'jwks.json', SECRETS_GATEWAY_AUTH_JWT_AUDIENCE: 'a' }, setting: 'SECRETS_GATEWAY_AUTH_JWT_ISSUER' },
  { name: 'policy without identities', env: { SECRETS_GATEWAY_POLICY_FILE: 'p.yaml' }, setting: 'SECRETS_GATEWAY_POLICY_FILE', reason: /identities/ },
  { name: 'optional client auth without tokens', env: { SECRETS_GATEWAY_TLS_CERT_FILE: 'c.pem', SECRETS_GATEWAY_TLS_KEY_FILE: 'k.pem', SECRETS_GATEWAY_TLS_CLIENT_CA_FILE: 'ca.pem', SECRETS_GATEWAY_TLS_CLIENT_AUTH: 'optional' }, setting: 'SECRETS_GATEWAY_TLS_CLIENT_AUTH' },
  { name: 'serve without redis', env: { cache_client_region_id: '[{"regionId":"cn-hangzhou"}]' }, mode: 'serve', setting: 'SECRETS_GATEWAY_REDIS_URL' },
];

for (const c of invalid) {
  test(`invalid config: ${c.name} → error names ${c.setting}`, (t) => {
    const err = t.throws(() => loadConfig({ mode: c.mode ?? 'dev', env: c.env, cwd: dir() }), { instanceOf: ConfigError });
    t.is((err as ConfigError).setting, c.setting);
    t.true(err!.message.startsWith(`${c.setting}: `));
    if (c.reason) t.regex(err!.message, c.reason);
  });
}

test('errors about secret settings never echo the value', (t) => {
  const err = t.throws(() => loadConfig({ mode: 'dev', env: { SECRETS_GATEWAY_REDIS_URL: `ftp://:${SENTINEL}@h` }, cwd: dir() }));
  t.false(err!.message.includes(SENTINEL));
  const err2 = t.throws(() => loadConfig({ mode: 'dev', env: { credentials_access_secret: SENTINEL, credentials_type: 'ak' }, cwd: dir() }));
  t.false(err2!.message.includes(SENTINEL));
});

test('defaults differ by mode, and targets derive their endpoints like the official clients', (t) => {
  const dev = loadConfig({ mode: 'dev', env: {}, cwd: dir() });
  t.deepEqual(dev.listen, { host: '127.0.0.1', port: 50051 });
  t.is(dev.kms.targets.length, 0);
  t.deepEqual(dev.kms.credentials, { type: 'default' });

  const serve = loadConfig({
    mode: 'serve',
    cwd: dir(),
    env: {
      SECRETS_GATEWAY_ALLOW_IN_MEMORY_CACHE: 'true',
      SECRETS_GATEWAY_ALLOW_PLAINTEXT: 'true',
      SECRETS_GATEWAY_ALLOW_ALL_CALLERS: 'true',
      cache_client_region_id: '[{"regionId":"cn-hangzhou"},{"regionId":"cn-shanghai","vpc":"true"}]',
      credentials_type: 'ak',
      credentials_access_key_id: 'id',
      credentials_access_secret: 'sk',
    },
  });
  t.deepEqual(serve.listen, { host: '0.0.0.0', port: 50051 });
  t.deepEqual(
    serve.kms.targets.map((x) => [x.endpoint, x.kind, x.protocol]),
    [
      ['kms.cn-hangzhou.aliyuncs.com', 'shared', 'https'],
      ['kms-vpc.cn-shanghai.aliyuncs.com', 'vpc', 'https'],
    ],
  );
  t.deepEqual(serve.kms.credentials, { type: 'access_key', accessKeyId: 'id', accessKeySecret: 'sk' });
});

test('a secretsmanager.properties file works unchanged, and the environment wins over it', (t) => {
  const d = dir();
  writeFileSync(join(d, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  writeFileSync(
    join(d, 'secretsmanager.properties'),
    [
      '# Credential type',
      'credentials_type=ram_role',
      'credentials_role_session_name=gw',
      'credentials_role_arn=acs:ram::123:role/reader',
      'credentials_access_key_id=id',
      'credentials_access_secret=sk=with=equals',
      'cache_client_region_id=[{"regionId":"cn-hangzhou","endpoint":"kst-hzz1.cryptoservice.kms.aliyuncs.com","caFilePath":"ca.pem"}]',
      'SECRETS_GATEWAY_LISTEN=127.0.0.1:6000',
    ].join('\n'),
  );
  const c = loadConfig({ mode: 'dev', env: { SECRETS_GATEWAY_LISTEN: '127.0.0.1:7000' }, cwd: d });
  t.is(c.listen.port, 7000);
  t.is(c.kms.targets[0]!.kind, 'dedicated');
  t.true(c.kms.targets[0]!.caPem!.includes('BEGIN CERTIFICATE'));
  t.like(c.kms.credentials, { type: 'ram_role_arn', roleArn: 'acs:ram::123:role/reader', roleSessionName: 'gw', accessKeySecret: 'sk=with=equals' });
});

test('a YAML config file takes the same names, and an unknown key in it is named', (t) => {
  const d = dir();
  writeFileSync(join(d, 'gw.yaml'), 'SECRETS_GATEWAY_LOG_LEVEL: debug\ncache_client_region_id:\n  - regionId: cn-hangzhou\n');
  const c = loadConfig({ mode: 'dev', env: { SECRETS_GATEWAY_CONFIG: 'gw.yaml' }, cwd: d });
  t.is(c.logLevel, 'debug');
  t.is(c.kms.targets[0]!.endpoint, 'kms.cn-hangzhou.aliyuncs.com');

  writeFileSync(join(d, 'bad.yaml'), 'SECRETS_GATEWAY_LOG_LEVL: debug\n');
  const err = t.throws(() => loadConfig({ mode: 'dev', env: { SECRETS_GATEWAY_CONFIG: 'bad.yaml' }, cwd: d }), { instanceOf: ConfigError });
  t.is((err as ConfigError).setting, 'SECRETS_GATEWAY_LOG_LEVL');
});

test('oidc_role_arn falls back to the standard RRSA variables', (t) => {
  const c = loadConfig({
    mode: 'dev',
    cwd: dir(),
    env: {
      credentials_type: 'oidc_role_arn',
      ALIBABA_CLOUD_ROLE_ARN: 'acs:ram::1:role/r',
      ALIBABA_CLOUD_OIDC_PROVIDER_ARN: 'acs:ram::1:oidc-provider/p',
      ALIBABA_CLOUD_OIDC_TOKEN_FILE: '/var/run/secrets/tokens/oidc-token',
    },
  });
  t.like(c.kms.credentials, { type: 'oidc_role_arn', roleArn: 'acs:ram::1:role/r', oidcTokenFilePath: '/var/run/secrets/tokens/oidc-token' });
});

test('the README documents every setting', (t) => {
  const readme = require('node:fs').readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8') as string;
  const { SETTINGS } = require('../../src/config/settings') as typeof import('../../src/config/settings');
  const missing = Object.keys(SETTINGS).filter((name) => !readme.includes(`\`${name}\``));
  t.deepEqual(missing, []);
});
