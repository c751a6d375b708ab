/**
 * Runs `secrets-gateway serve` (or `dev`) from bin/secrets-gateway.js, on the TypeScript sources,
 * as a real child process configured only through its environment, and waits until its health
 * check says SERVING. The benchmarks (bench/) start their gateways with it too.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { credentials, type ChannelCredentials } from '@grpc/grpc-js';
import { testRunEnv } from './clock';
import { track } from './children';
import { healthWith } from './grpc';
import { freePort } from './redis';

const BIN = join(__dirname, '..', '..', 'bin', 'secrets-gateway.js');

export interface GatewayProcess {
  port: number;
  /** The admin HTTP port (/metrics, /healthz, /readyz). */
  adminPort: number;
  pid: number;
  /** From spawn to the first SERVING health answer, in ms. */
  servingMs: number;
  /** kill -9: no graceful shutdown at all. */
  crash(): Promise<void>;
  /** SIGTERM, then wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
  logs(): string;
}

export interface GatewayProcessOptions {
  command?: 'serve' | 'dev';
  /** Credentials the health check connects with. @default insecure */
  health?: ChannelCredentials;
  /** The host the health check dials (TLS: a name, not an IP, for SNI). @default 127.0.0.1 */
  healthHost?: string;
  /** Pause between health checks, in ms. @default 100 */
  pollMs?: number;
}

export async function startGatewayProcess(env: Record<string, string>, o: GatewayProcessOptions = {}): Promise<GatewayProcess> {
  const port = await freePort();
  const adminPort = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, [BIN, o.command ?? 'serve'], {
    env: { PATH: process.env.PATH ?? '', ALIBABA_CLOUD_ECS_METADATA_DISABLED: 'true', HOME: '/nonexistent', SECRETS_GATEWAY_LISTEN: `127.0.0.1:${port}`, SECRETS_GATEWAY_ADMIN_LISTEN: `127.0.0.1:${adminPort}`,
      // Tests of other concerns run serve as a fenced-off gateway would: plaintext loopback, no policy.
      SECRETS_GATEWAY_ALLOW_PLAINTEXT: 'true', SECRETS_GATEWAY_ALLOW_ALL_CALLERS: 'true', SECRETS_GATEWAY_ALLOW_PLAINTEXT_REDIS: 'true', ...testRunEnv(), ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  track(child);
  let logs = '';
  child.stderr!.on('data', (d: Buffer) => (logs = (logs + d.toString()).slice(-200_000)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const creds = o.health ?? credentials.createInsecure();
  const pollMs = o.pollMs ?? 100;
  let servingMs = 0;
  try {
    // A fresh channel per check: a refused connect must not leave the next check waiting out a reconnect backoff.
    for (const deadline = Date.now() + 60_000; ; ) {
      if (child.exitCode !== null) throw new Error(`gateway exited ${child.exitCode}:\n${logs}`);
      if ((await healthWith(`${o.healthHost ?? '127.0.0.1'}:${port}`, creds)) === 'SERVING') break;
      if (Date.now() > deadline) throw new Error(`gateway on ${port} never became SERVING:\n${logs}`);
      await new Promise((r) => setTimeout(r, pollMs));
    }
    servingMs = performance.now() - t0;
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return {
    port,
    adminPort,
    pid: child.pid!,
    servingMs,
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
