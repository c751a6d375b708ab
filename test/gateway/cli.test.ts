/** The `get`, `watch` and `rotate` commands against a running dev gateway, as a person or a script runs them. */
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { startDevGateway, TEXT, BINARY } from '../helpers/conformance';

const run = promisify(execFile);
const BIN = join(__dirname, '..', '..', 'bin', 'secrets-gateway.js');
const cli = (args: string[]) => run(process.execPath, [BIN, ...args], { timeout: 30_000 }).then(
  (r) => ({ code: 0, ...r }),
  (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
);

test('get prints the value alone on stdout and the description on stderr; --json is one object', async (t) => {
  const dev = await startDevGateway(t);
  const target = `127.0.0.1:${dev.gateway.port}`;
  const plain = await cli(['get', TEXT, '--target', target]);
  t.is(plain.code, 0);
  t.is(plain.stdout, 's3cr3t-passw0rd\n');
  t.regex(plain.stderr, /demo\/db-password version v2 \[ACSCurrent\]/);
  t.false(plain.stderr.includes('s3cr3t'), 'no value on stderr');

  const json = JSON.parse((await cli(['get', BINARY, '--json', '--target', target])).stdout);
  t.like(json, { name: BINARY, versionId: 'v1', valueBase64: 'MIIBCgKCAQEAw16a/wAQf4D+AQIDBAU=' });
  t.like(json.freshness, { source: 'KMS' });

  const prev = await cli(['get', TEXT, '--stage', 'ACSPrevious', '--target', target]);
  t.is(prev.stdout, 'old-passw0rd\n');
  t.is((await cli(['get', 'demo/nope', '--target', target])).code, 3);
  const bad = await cli(['get', 'bad name', '--target', target]);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /INVALID_ARGUMENT: name: /);
});

test('watch prints each version as it arrives; rotate (dev only) makes one arrive', async (t) => {
  const dev = await startDevGateway(t);
  const target = `127.0.0.1:${dev.gateway.port}`;
  const watch = spawn(process.execPath, [BIN, 'watch', TEXT, '--json', '--target', target], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => watch.kill('SIGKILL'));
  const lines: { event: string; versionId: string }[] = [];
  let buf = '';
  const seen = (pred: (l: { event: string; versionId: string }) => boolean) =>
    new Promise<void>((resolve) => {
      const check = () => (lines.some(pred) ? resolve() : undefined);
      watch.stdout.on('data', check);
      check();
    });
  watch.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i; (i = buf.indexOf('\n')) >= 0; buf = buf.slice(i + 1)) lines.push(JSON.parse(buf.slice(0, i)));
  });
  await seen((l) => l.event === 'secret' && l.versionId === 'v2');

  const rotated = await cli(['rotate', TEXT, '--admin', dev.emulator!.adminUrl!]);
  t.is(rotated.code, 0);
  const newVersion = /new version (\S+)/.exec(rotated.stdout)![1]!;
  await seen((l) => l.event === 'secret' && l.versionId === newVersion);
  t.pass();

  const remote = await cli(['rotate', TEXT, '--admin', 'http://10.0.0.1:50052']);
  t.is(remote.code, 2, 'rotate refuses a non-loopback admin URL');
  watch.kill('SIGINT');
  t.is(await new Promise((resolve) => watch.once('exit', (code) => resolve(code))), 0, 'watch exits 0 on Ctrl-C');
});
