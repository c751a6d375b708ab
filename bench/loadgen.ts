/**
 * Builds (once per source version) and runs the Go load generator, bench/loadgen/main.go. The
 * binary is cached in the OS temp dir under a hash of its sources and the Go version, with a
 * persistent GOCACHE beside it, so a re-run starts at once and a changed main.go rebuilds.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { track } from '../test/helpers/children';

const SRC = join(__dirname, 'loadgen');
const CACHE = join(tmpdir(), 'secrets-gateway-bench');

let built: string | undefined;

/** The path of a built load generator for the current sources. */
export function loadgenBinary(): string {
  if (built) return built;
  const goVersion = execFileSync('go', ['version'], { encoding: 'utf8' });
  const hash = createHash('sha256').update(goVersion);
  for (const f of ['main.go', 'build.sh']) hash.update(readFileSync(join(SRC, f)));
  const bin = join(CACHE, `loadgen-${hash.digest('hex').slice(0, 16)}`);
  if (!existsSync(bin)) {
    mkdirSync(CACHE, { recursive: true });
    const work = mkdtempSync(join(CACHE, 'build-'));
    try {
      execFileSync(join(SRC, 'build.sh'), [join(work, 'loadgen'), work, join(CACHE, 'gocache')], { stdio: 'pipe', timeout: 300_000 });
      renameSync(join(work, 'loadgen'), bin);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  return (built = bin);
}

export interface Tls {
  ca: string;
  cert: string;
  key: string;
}

export interface UnaryLoad {
  targets: string[];
  /** protobuf-encoded request */
  request: Uint8Array;
  conns: number;
  inflight: number;
  durationMs?: number;
  warmupMs?: number;
  /** open loop, requests/s */
  rate?: number;
  /** exactly this many requests, then stop */
  requests?: number;
  tls?: Tls;
}

export interface UnaryResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  count: number;
  respBytes: number;
  wallMs: number;
  /** the load generator's own CPU time over the measured window */
  cpuMs: number;
  errorSample: string;
}

function common(o: { targets: string[]; request: Uint8Array; conns: number; tls?: Tls }): string[] {
  const args = ['-targets', o.targets.join(','), '-request', Buffer.from(o.request).toString('base64'), '-conns', String(o.conns)];
  if (o.tls) args.push('-ca', o.tls.ca, '-cert', o.tls.cert, '-key', o.tls.key);
  return args;
}

/** One unary run; resolves with the generator's report. */
export function runUnary(o: UnaryLoad): Promise<UnaryResult> {
  const args = [...common(o), '-inflight', String(o.inflight), '-duration', `${o.durationMs ?? 5000}ms`, '-warmup', `${o.warmupMs ?? 0}ms`];
  if (o.rate) args.push('-rate', String(o.rate));
  if (o.requests) args.push('-requests', String(o.requests));
  return new Promise((resolve, reject) => {
    const child = track(spawn(loadgenBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as UnaryResult) : reject(new Error(`loadgen exited ${code}: ${err}`))));
  });
}

export interface WatchReady {
  streams: number;
  opened: number;
  firstMessages: number;
  errors: number;
  openMs: number;
  errorSample: string;
  cpuMs: number;
}

export interface WatchDelivered {
  delivered: number;
  expected: number;
  errors: number;
  heartbeats: number;
  errorSample: string;
  firstUnixMs?: number;
  lastUnixMs?: number;
  cpuMs: number;
}

export interface WatchRun {
  pid: number;
  ready: Promise<WatchReady>;
  delivered: Promise<WatchDelivered>;
  kill(): void;
}

/** Opens `streams` WatchSecret streams; `want` marks the awaited version (its id, chosen before the rotation). */
export function startWatch(o: { targets: string[]; request: Uint8Array; conns: number; streams: number; openRate?: number; want: string; deliverTimeoutMs?: number }): WatchRun {
  const args = [...common(o), '-mode', 'watch', '-method', '/secretsgateway.v1.SecretsGatewayService/WatchSecret', '-streams', String(o.streams), '-want', o.want,
    '-deliver-timeout', `${o.deliverTimeoutMs ?? 60_000}ms`, '-open-rate', String(o.openRate ?? 0)];
  const child = track(spawn(loadgenBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  let err = '';
  child.stderr.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-10_000)));
  const events = new Map<string, (v: unknown) => void>();
  const failed = new Promise<never>((_, reject) => child.once('exit', (code) => code !== 0 && reject(new Error(`loadgen (watch) exited ${code}: ${err}`))));
  failed.catch(() => undefined);
  const next = <T>(event: string) => Promise.race([new Promise<T>((resolve) => events.set(event, resolve as (v: unknown) => void)), failed]);
  const ready = next<WatchReady>('ready');
  const delivered = next<WatchDelivered>('delivered');
  createInterface({ input: child.stdout }).on('line', (line) => {
    const m = JSON.parse(line) as { event: string };
    events.get(m.event)?.(m);
  });
  return { pid: child.pid!, ready, delivered, kill: () => child.kill('SIGKILL') };
}
