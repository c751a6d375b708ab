/**
 * Figures (a)–(d): one gateway configuration against the baseline, same load generator, same load,
 * rounds alternated A/B/A/B in one run. Each round also records how much CPU the server and the
 * load generator used, the evidence that the generator is not what saturates.
 */
import { runUnary, type Tls, type UnaryLoad, type UnaryResult } from '../loadgen';
import { cpuMs } from '../proc';
import { spread, type Spread } from '../stats';

export interface Target {
  port: number;
  pid: number;
}

export interface Round extends UnaryResult {
  /** the server's CPU over the round, in cores (1 = one core busy the whole time) */
  serverCores: number;
  /** the load generator's CPU over the round, in cores */
  loadgenCores: number;
}

export interface Side {
  rounds: Round[];
  rps: Spread;
  p50: Spread;
  p99: Spread;
  errors: number;
  respBytes: number;
  serverCores: number;
  loadgenCores: number;
}

export interface ABFigure {
  gateway: Side;
  baseline: Side;
  /** median gateway rps ÷ median baseline rps */
  ratio: number;
  /** median gateway p99 ÷ median baseline p99 */
  p99Ratio: number;
}

export interface LoadShape {
  conns: number;
  inflight: number;
  roundMs: number;
  warmupMs: number;
  rounds: number;
  /** open loop at this rate (figure d) */
  rate?: number;
}

async function round(t: Target, load: Omit<UnaryLoad, 'targets'>): Promise<Round> {
  const cpu0 = cpuMs(t.pid);
  const r = await runUnary({ ...load, targets: [`127.0.0.1:${t.port}`] });
  return { ...r, serverCores: (cpuMs(t.pid) - cpu0) / (r.wallMs + (load.warmupMs ?? 0)), loadgenCores: r.cpuMs / r.wallMs };
}

function side(rounds: Round[]): Side {
  const avg = (f: (r: Round) => number) => rounds.reduce((s, r) => s + f(r), 0) / rounds.length;
  return {
    rounds,
    rps: spread(rounds.map((r) => r.rps)),
    p50: spread(rounds.map((r) => r.p50)),
    p99: spread(rounds.map((r) => r.p99)),
    errors: rounds.reduce((s, r) => s + r.errors, 0),
    respBytes: avg((r) => r.respBytes),
    serverCores: avg((r) => r.serverCores),
    loadgenCores: avg((r) => r.loadgenCores),
  };
}

/** Alternates gateway and baseline rounds under the same load; a round that answered nothing fails the figure. */
export async function abFigure(gateway: Target, baseline: Target, request: Uint8Array, shape: LoadShape, tls?: Tls): Promise<ABFigure> {
  const load = { request, conns: shape.conns, inflight: shape.inflight, durationMs: shape.roundMs, warmupMs: shape.warmupMs, rate: shape.rate, tls };
  const g: Round[] = [];
  const b: Round[] = [];
  for (let i = 0; i < shape.rounds; i++) {
    g.push(await round(gateway, load));
    b.push(await round(baseline, load));
  }
  for (const r of [...g, ...b]) if (r.count === 0) throw new Error(`a round answered no call (${r.errors} errors; first: ${r.errorSample})`);
  const gs = side(g);
  const bs = side(b);
  return { gateway: gs, baseline: bs, ratio: gs.rps.median / bs.rps.median, p99Ratio: gs.p99.median / bs.p99.median };
}
