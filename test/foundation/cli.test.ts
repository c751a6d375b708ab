import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import test from 'ava';

const BIN = join(__dirname, '..', '..', 'bin', 'secrets-gateway.js');

function run(env: Record<string, string>, args = ['dev']) {
  return spawnSync(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', ALIBABA_CLOUD_ECS_METADATA_DISABLED: 'true', ...env }, encoding: 'utf8', timeout: 30_000 });
}

test('an invalid SECRETS_GATEWAY_LISTEN stops startup with exit 1 and names the setting', (t) => {
  const r = run({ SECRETS_GATEWAY_LISTEN: 'not-an-address' });
  t.is(r.status, 1);
  t.regex(r.stderr, /configuration error: SECRETS_GATEWAY_LISTEN: must be host:port/);
});

test('an unknown setting stops startup with exit 1 and names it', (t) => {
  const r = run({ SECRETS_GATEWAY_LISTEN_ADDR: '127.0.0.1:0' });
  t.is(r.status, 1);
  t.regex(r.stderr, /configuration error: SECRETS_GATEWAY_LISTEN_ADDR: unknown environment variable/);
});

test('an unknown command prints usage and exits 2', (t) => {
  const r = run({}, ['frobnicate']);
  t.is(r.status, 2);
  t.regex(r.stderr, /unknown command "frobnicate"/);
});
