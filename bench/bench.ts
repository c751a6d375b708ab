/**
 * The whole benchmark, figure by figure, as one function: `npm run bench` runs it full size and
 * writes BENCHMARKS.md; the smoke test (test/bench/smoke.test.ts) runs it tiny and checks the
 * behaviour counters. Every process it starts is stopped when it returns or throws.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GatewayProcess } from '../test/helpers/gatewayProcess';
import { startRedis, type RedisInstance } from '../test/helpers/redis';
import { startBaseline, type BaselineProcess } from './baseline';
import { coldReads, getRequest, type ColdReads } from './figures/coldReads';
import { startup, type Startup } from './figures/startup';
import { abFigure, type ABFigure, type LoadShape } from './figures/throughput';
import { watchFigure, type WatchFigure } from './figures/watch';
import { preencodedAnswers, startDevGateway, startL1OffGateway, startMtlsGateway, startReplicas } from './gateways';
import { grpcJsLoad } from './jsClient';
import { loadgenBinary } from './loadgen';
import { coldName, makeTlsFiles, startBenchKms, WATCHED } from './material';

export interface BenchParams {
  rounds: number;
  roundMs: number;
  warmupMs: number;
  conns: number;
  inflight: number;
  coldReads: number;
  watchers: number;
  watchConns: number;
  /** watch streams opened per second; 0 opens them all at once */
  watchOpenRate: number;
  warmSecrets: number;
  /** also run the grpc-js client against the baseline (loadgen-not-bottleneck evidence) */
  compareGrpcJs: boolean;
}

export const FULL: BenchParams = { rounds: 3, roundMs: 5000, warmupMs: 1000, conns: 4, inflight: 32, coldReads: 1000, watchers: 50_000, watchConns: 50, watchOpenRate: 0, warmSecrets: 1000, compareGrpcJs: true };
export const SMOKE: BenchParams = { rounds: 1, roundMs: 300, warmupMs: 100, conns: 2, inflight: 8, coldReads: 100, watchers: 200, watchConns: 2, watchOpenRate: 0, warmSecrets: 20, compareGrpcJs: false };

export interface BenchResults {
  params: BenchParams;
  a: ABFigure & { preencodedAnswers?: number };
  b: ABFigure;
  c: ABFigure;
  d: ABFigure & { rate: number };
  e: { shared: ColdReads; perProcess: ColdReads };
  f: WatchFigure;
  h: Startup;
  grpcJs?: { rps: number; errors: number; goRps: number };
  /** wall time of each step, in ms */
  timings: Record<string, number>;
}

const DEMO = getRequest('demo/db-password');

/** Runs `fn` and records how long it took under `name`. */
async function timed<T>(timings: Record<string, number>, name: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    timings[name] = Math.round(performance.now() - t0);
  }
}

/** Figures (f) and (g) alone (BENCH_ONLY=f): three replicas sharing one redis-server, as in the full run. */
export async function runWatchOnly(p: BenchParams, log: (line: string) => void = () => undefined): Promise<WatchFigure> {
  const dir = mkdtempSync(join(tmpdir(), 'sg-bench-'));
  const stops: (() => unknown)[] = [];
  try {
    loadgenBinary();
    const kms = await startBenchKms(dir, { warmSecrets: 1, coldTags: [] });
    stops.push(() => kms.emu.close());
    const redis = await startRedis();
    stops.push(() => redis.stop());
    const shared = await startReplicas(kms, 3, { redis, prefix: 'bench-f' });
    for (const g of shared) stops.push(() => g.crash());
    log(`(f)(g) ${p.watchers} watch streams over 3 replicas, one rotation`);
    return await watchFigure(kms, shared, WATCHED, { streams: p.watchers, conns: p.watchConns, openRate: p.watchOpenRate });
  } finally {
    for (const stop of stops.reverse()) await Promise.resolve(stop()).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runBench(p: BenchParams, log: (line: string) => void = () => undefined): Promise<BenchResults> {
  const dir = mkdtempSync(join(tmpdir(), 'sg-bench-'));
  const stops: (() => unknown)[] = [];
  const keep = <T extends GatewayProcess | BaselineProcess | RedisInstance>(x: T): T => {
    stops.push(() => ('crash' in x ? x.crash() : x.stop()));
    return x;
  };
  const timings: Record<string, number> = {};
  try {
    await timed(timings, 'build loadgen', async () => loadgenBinary());
    const [tls, kms] = await timed(timings, 'certificates, emulator', () =>
      Promise.all([makeTlsFiles(dir), startBenchKms(dir, { warmSecrets: p.warmSecrets, coldTags: ['shared', 'local'] })]),
    );
    stops.push(() => kms.emu.close());
    const redis = keep(await startRedis());
    const shape: LoadShape = { conns: p.conns, inflight: p.inflight, roundMs: p.roundMs, warmupMs: p.warmupMs, rounds: p.rounds };
    const clientTls = { ca: tls.ca, cert: tls.clientCert, key: tls.clientKey };

    // Started together (start-up is mostly loading code); the ones not yet measured sit idle.
    const [baseline, baselineTls, dev, mtls, l1off] = await timed(timings, 'start servers', () =>
      Promise.all([startBaseline().then(keep), startBaseline(tls).then(keep), startDevGateway().then(keep), startMtlsGateway(kms, tls).then(keep), startL1OffGateway(redis).then(keep)]),
    );
    log('(a) GetSecret, L1 hit, plaintext');
    const a = await timed(timings, '(a)', () => abFigure(dev, baseline, DEMO, shape));
    const preencoded = await preencodedAnswers(dev);
    let grpcJs: BenchResults['grpcJs'];
    if (p.compareGrpcJs) {
      log('    grpc-js client against the baseline, for comparison');
      const js = await grpcJsLoad(baseline.port, DEMO, { conns: p.conns, inflight: p.inflight, durationMs: p.roundMs });
      grpcJs = { ...js, goRps: a.baseline.rps.median };
    }
    log('(d) p99 at 50% of the baseline\'s max');
    const rate = Math.max(10, Math.round(a.baseline.rps.median / 2));
    const d = await timed(timings, '(d)', () => abFigure(dev, baseline, DEMO, { ...shape, rate, inflight: 1024, warmupMs: 0 }));

    log('(b) GetSecret over mTLS, identity + policy + audit');
    const b = await timed(timings, '(b)', () => abFigure(mtls, baselineTls, DEMO, shape, clientTls));
    await mtls.crash();

    log('(c) GetSecret, L1 off, every hit from redis-server');
    const c = await timed(timings, '(c)', () => abFigure(l1off, baseline, DEMO, shape));
    await Promise.all([l1off.crash(), dev.crash(), baseline.stop(), baselineTls.stop()]);

    log(`(e) ${p.coldReads} concurrent cold reads over 3 replicas`);
    const [shared, local] = await timed(timings, 'start replicas', () => Promise.all([startReplicas(kms, 3, { redis, prefix: 'bench-e' }), startReplicas(kms, 3)]));
    [...shared, ...local].forEach(keep);
    const e = await timed(timings, '(e)', async () => ({
      shared: await coldReads(kms, shared, coldName('shared'), p.coldReads),
      perProcess: await coldReads(kms, local, coldName('local'), p.coldReads),
    }));
    await Promise.all(local.map((g) => g.crash()));

    log(`(f)(g) ${p.watchers} watch streams over 3 replicas, one rotation`);
    const f = await timed(timings, '(f)', () => watchFigure(kms, shared, WATCHED, { streams: p.watchers, conns: p.watchConns, openRate: p.watchOpenRate }));
    await Promise.all(shared.map((g) => g.crash()));

    log(`(h) start-up, warm-up of ${p.warmSecrets} secrets`);
    const h = await timed(timings, '(h)', () => startup(kms, redis, p.warmSecrets));
    return { params: p, a: { ...a, preencodedAnswers: preencoded }, b, c, d: { ...d, rate }, e, f, h, grpcJs, timings };
  } finally {
    for (const stop of stops.reverse()) await Promise.resolve(stop()).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
