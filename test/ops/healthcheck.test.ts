/** bin/healthcheck.js, the image's HEALTHCHECK: gRPC health over loopback, plaintext or TLS. */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTlsMaterial } from '@secrets-gateway/kms-emulator/tls';
import { ReloadingServerCredentials } from '../../src/auth/tls';
import { buildServer, createHealth, setServing } from '../../src/server/server';
import { silentLogger } from '../../src/telemetry/logger';

const SCRIPT = join(__dirname, '..', '..', 'bin', 'healthcheck.js');
const run = (mode: string, env: Record<string, string>) =>
  new Promise<number>((resolve) => execFile(process.execPath, [SCRIPT, mode], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 15_000 }, (err) => resolve(err ? (typeof err.code === 'number' ? err.code : -1) : 0)));

test('plaintext: ready fails on NOT_SERVING and passes on SERVING; live passes on either', async (t) => {
  const health = createHealth();
  const { server, port } = await buildServer({ host: '127.0.0.1', port: 0 }, {}, health);
  t.teardown(() => server.forceShutdown());
  const env = { SECRETS_GATEWAY_LISTEN: `0.0.0.0:${port}` };
  t.deepEqual([await run('ready', env), await run('live', env)], [1, 0]);
  setServing(health, true);
  t.deepEqual([await run('ready', env), await run('live', env)], [0, 0]);
});

test('TLS (SECRETS_GATEWAY_TLS_CERT_FILE set): the same check over TLS', async (t) => {
  const { server: cert } = await createTlsMaterial({});
  const dir = mkdtempSync(join(tmpdir(), 'sg-healthcheck-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'tls.crt'), cert.certPem);
  writeFileSync(join(dir, 'tls.key'), cert.keyPem);
  const credentials = new ReloadingServerCredentials({ certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), reloadIntervalMs: 60_000 }, silentLogger);
  t.teardown(() => credentials.close());
  const health = createHealth();
  setServing(health, true);
  const { server, port } = await buildServer({ host: '127.0.0.1', port: 0 }, {}, health, { credentials });
  t.teardown(() => server.forceShutdown());
  t.is(await run('ready', { SECRETS_GATEWAY_LISTEN: `0.0.0.0:${port}`, SECRETS_GATEWAY_TLS_CERT_FILE: join(dir, 'tls.crt') }), 0);
  t.is(await run('ready', { SECRETS_GATEWAY_LISTEN: `0.0.0.0:${port}` }), 1, 'plaintext against a TLS port fails');
});
