/**
 * Runs `secrets-gateway serve` (bin/secrets-gateway.js, from the TypeScript sources) as a real child
 * process, configured only through its environment, and waits until its health check says SERVING.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { testRunEnv } from './clock';
import { track } from './children';
import { healthClient } from './grpc';
import { freePort } from './redis';

const BIN = join(__dirname, '..', '..', 'bin', 'secrets-gateway.js');

export interface GatewayProcess {
  port: number;
  pid: number;
  /** kill -9: no graceful shutdown at all. */
  crash(): Promise<void>;
  /** SIGTERM, then wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
  logs(): string;
}

export async function startGatewayProcess(env: Record<string, string>): Promise<GatewayProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: { PATH: process.env.PATH ?? '', ALIBABA_CLOUD_ECS_METADATA_DISABLED: 'true', HOME: '/nonexistent', SECRETS_GATEWAY_LISTEN: `127.0.0.1:${port}`, SECRETS_GATEWAY_ADMIN_LISTEN: '127.0.0.1:0',
      // Tests of other concerns run serve as a fenced-off gateway would: plaintext loopback, no policy.
      SECRETS_GATEWAY_ALLOW_PLAINTEXT: 'true', SECRETS_GATEWAY_ALLOW_ALL_CALLERS: 'true', SECRETS_GATEWAY_ALLOW_PLAINTEXT_REDIS: 'true', ...testRunEnv(), ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  track(child);
  let logs = '';
  child.stderr!.on('data', (d: Buffer) => (logs = (logs + d.toString()).slice(-200_000)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const health = healthClient(port);
  try {
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error(`gateway exited ${child.exitCode}:\n${logs}`);
      const ok = await new Promise<boolean>((resolve) =>
        health.check({ service: '' }, (e, r) => resolve(!e && r?.status === 'SERVING')),
      );
      if (ok) break;
      if (i > 300) throw new Error(`gateway on ${port} never became SERVING:\n${logs}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  } finally {
    health.close();
  }
  return {
    port,
    pid: child.pid!,
    crash: async () => {
      child.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
    logs: () => logs,
  };
}
