/**
 * `npm run bench`: GetSecret served from the in-process cache, against a bare grpc-js echo server
 * with a reply of the same size, in one run, side by side: each server in its own process, the
 * load from this one, the same concurrency and duration, alternating rounds. Reports throughput,
 * p50/p99 latency and the gateway/echo ratio. Loopback only; every loop is bounded in time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { credentials, makeGenericClientConstructor, Metadata, type Client } from '@grpc/grpc-js';
import { SecretsGatewayServiceClient } from '../src/gen/secretsgateway/v1/secrets_gateway';
import { ECHO_SERVICE } from './echo';

const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 4000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);

function startServer(kind: string): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'server.ts'), kind], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve({ port: Number(d.toString().trim()), child }));
    child.once('exit', (code) => reject(new Error(`${kind} server exited ${code}`)));
  });
}

type Call = () => Promise<void>;

async function load(call: Call): Promise<{ rps: number; p50: number; p99: number; errors: number }> {
  const lat: number[] = [];
  let errors = 0;
  const end = Date.now() + DURATION_MS;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < end) {
        const t0 = process.hrtime.bigint();
        try {
          await call();
          lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
        } catch {
          errors++;
        }
      }
    }),
  );
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
  return { rps: Math.round(lat.length / (DURATION_MS / 1000)), p50: q(0.5), p99: q(0.99), errors };
}

async function main() {
  const echo = await startServer('echo');
  const gw = await startServer('gateway');
  try {
    const Echo = makeGenericClientConstructor(ECHO_SERVICE, 'Echo');
    const echoClient = new Echo(`127.0.0.1:${echo.port}`, credentials.createInsecure()) as unknown as Client & { echo(r: Buffer, cb: (e: Error | null) => void): void };
    const gwClient = new SecretsGatewayServiceClient(`127.0.0.1:${gw.port}`, credentials.createInsecure());
    const req = { name: 'demo/db-password', versionStage: '', versionId: '', regionId: '', fetchExtendedConfig: false };
    const calls: Record<string, Call> = {
      'grpc-js echo (baseline)': () => new Promise((resolve, reject) => echoClient.echo(Buffer.alloc(40), (e) => (e ? reject(e) : resolve()))),
      'GetSecret (cache hit)': () => new Promise((resolve, reject) => gwClient.getSecret(req, new Metadata(), (e) => (e ? reject(e) : resolve()))),
    };
    for (const c of Object.values(calls)) for (let i = 0; i < 200; i++) await c(); // warm up JIT, channels and the cache
    const results: Record<string, { rps: number; p50: number; p99: number; errors: number }[]> = {};
    for (let r = 0; r < ROUNDS; r++) for (const [name, c] of Object.entries(calls)) (results[name] ??= []).push(await load(c));
    console.log(`concurrency ${CONCURRENCY}, ${ROUNDS} alternating rounds of ${DURATION_MS} ms each, loopback, 2-core machine`);
    const best = (name: string) => results[name]!.reduce((a, b) => (b.rps > a.rps ? b : a));
    for (const name of Object.keys(calls)) {
      const b = best(name);
      console.log(`${name.padEnd(26)} ${String(b.rps).padStart(7)} req/s   p50 ${b.p50.toFixed(2)} ms   p99 ${b.p99.toFixed(2)} ms   errors ${b.errors}`);
    }
    const [base, gwName] = Object.keys(calls) as [string, string];
    console.log(`GetSecret / echo throughput ratio: ${(best(gwName).rps / best(base).rps).toFixed(2)}`);
    echoClient.close();
    gwClient.close();
  } finally {
    echo.child.kill('SIGKILL');
    gw.child.kill('SIGKILL');
  }
}

void main();
