/**
 * One conformance scenario (get text, get binary, NOT_FOUND, INVALID_ARGUMENT, watch + rotate,
 * resume with last_version_id) from three real clients: grpc-js, Python (Debian python3-grpcio,
 * stubs generated from proto/ at test time) and Go (Debian grpc-go, GOPATH mode, offline), all
 * against the dev gateway: embedded KMS emulator, cache, watch.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { BINARY, checkScenario, runClient, startDevGateway, TEXT } from '../helpers/conformance';

const ROOT = join(__dirname, '..', '..');
const target = (port: number) => `127.0.0.1:${port}`;

test('grpc-js client', async (t) => {
  const dev = await startDevGateway(t);
  const steps = await runClient(dev, process.execPath, ['--import', 'tsx', join(ROOT, 'test', 'helpers', 'nodeScenario.ts'), target(dev.gateway.port), TEXT, BINARY]);
  checkScenario(t, dev, steps);
});

test('Python client (python3-grpcio)', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'sg-py-'));
  execFileSync('/usr/bin/python3', ['-m', 'grpc_tools.protoc', '-I', join(ROOT, 'proto'), `--python_out=${out}`, `--grpc_python_out=${out}`, join(ROOT, 'proto', 'secretsgateway', 'v1', 'secrets_gateway.proto')]);
  const dev = await startDevGateway(t);
  const steps = await runClient(
    dev,
    '/usr/bin/python3',
    [join(ROOT, 'examples', 'python', 'secrets_gateway_client.py'), '--target', target(dev.gateway.port), 'scenario', '--text-secret', TEXT, '--binary-secret', BINARY],
    { PYTHONPATH: out },
  );
  checkScenario(t, dev, steps);
});

test('Go client (Debian grpc-go, GOPATH mode, offline)', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'sg-go-'));
  const bin = join(work, 'client');
  execFileSync(join(ROOT, 'examples', 'go', 'build.sh'), [bin, work], { stdio: 'pipe', timeout: 300_000 });
  const dev = await startDevGateway(t);
  const steps = await runClient(dev, bin, ['-target', target(dev.gateway.port), '-text-secret', TEXT, '-binary-secret', BINARY, 'scenario']);
  checkScenario(t, dev, steps);
});
