/**
 * The conformance scenario shared by every client language: each client prints one JSON line per
 * step (values as SHA-256 digests), and `checkScenario` asserts the same outcome for all of them.
 */
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import type { ExecutionContext } from 'ava';
import { loadConfig } from '../../src/config/load';
import { startDev, type DevGateway } from '../../src/cli/dev';
import type { GatewayDeps } from '../../src/main';
import { silentLogger, type Logger } from '../../src/telemetry/logger';
import type { KmsEmulator } from '@secrets-gateway/kms-emulator';

export const TEXT = 'demo/db-password';
export const BINARY = 'demo/tls-key';
/** A dev gateway with its embedded emulator, typed as the emulator package's own (dev.ts only needs a narrow part). */
export type TestDevGateway = DevGateway & { emulator: KmsEmulator };
export type Step = { step: string; ok: boolean; [k: string]: unknown };

export async function startDevGateway(t: ExecutionContext, env: Record<string, string> = {}, logger: Logger = silentLogger, deps: Omit<GatewayDeps, 'logger'> = {}): Promise<TestDevGateway> {
  const config = loadConfig({
    mode: 'dev',
    cwd: __dirname,
    env: { SECRETS_GATEWAY_LISTEN: '127.0.0.1:0', SECRETS_GATEWAY_WATCH_POLL_INTERVAL_MS: '500', SECRETS_GATEWAY_WATCH_HEARTBEAT_MS: '300', ...env },
  });
  const dev = await startDev(config, logger, 0, deps);
  t.teardown(() => dev.close());
  return dev as TestDevGateway;
}

/** Rotates through the emulator's admin endpoint, exactly as `secrets-gateway rotate` does. */
export async function rotate(dev: TestDevGateway, name: string): Promise<string> {
  const res = await fetch(new URL('/admin/rotate', dev.emulator.adminUrl!), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) });
  return ((await res.json()) as { versionId: string }).versionId;
}

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Runs a client process, rotating the text secret when it reports its first watch message. */
export function runClient(dev: TestDevGateway, cmd: string, args: string[], env: Record<string, string> = {}): Promise<Step[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const steps: Step[] = [];
    let buf = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i; (i = buf.indexOf('\n')) >= 0; ) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (!line.trim()) continue;
        const step = JSON.parse(line) as Step;
        steps.push(step);
        if (step.step === 'watch-first') void rotate(dev, TEXT);
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`${cmd} exited ${code}: ${err}`));
      else resolve(steps);
    });
  });
}

export function checkScenario(t: ExecutionContext, dev: TestDevGateway, steps: Step[]): void {
  const by = Object.fromEntries(steps.map((s) => [s.step, s]));
  t.deepEqual(
    steps.map((s) => s.step),
    ['get-text', 'get-binary', 'get-missing', 'get-bad-name', 'watch-first', 'watch-rotated', 'resume-current', 'resume-old'],
  );
  for (const s of steps) t.true(s.ok, `${s.step}: ${JSON.stringify(s)}`);
  const store = dev.emulator.store;
  const text = store.getSecretValue(TEXT, {});
  t.like(by['get-text'], { kind: 'string_value', version_id: 'v2' });
  const bin = store.getSecretValue(BINARY, {});
  t.like(by['get-binary'], { kind: 'binary_value', sha256: sha(Buffer.from(bin.data, 'base64')) });
  t.like(by['get-missing'], { code: 'NOT_FOUND' });
  t.like(by['get-bad-name'], { code: 'INVALID_ARGUMENT' });
  t.regex(String(by['get-bad-name']!.details), /^name: /);
  t.like(by['watch-first'], { event: 'secret', version_id: 'v2' });
  t.is(by['watch-rotated']!.version_id, text.versionId, 'the watch delivered the version the emulator now holds as ACSCurrent');
  t.is(by['watch-rotated']!.sha256, sha(text.data));
  t.like(by['resume-current'], { event: 'heartbeat', version_id: text.versionId });
  t.like(by['resume-old'], { event: 'secret', version_id: text.versionId });
}
