/**
 * `npm run bench`: every figure of BENCHMARKS.md, gateway against the logic-free baseline, from
 * one run on this machine, and writes BENCHMARKS.md. `npm run bench -- --smoke` (or BENCH_SMOKE=1)
 * runs each figure tiny and prints the results instead. Knobs: BENCH_ROUNDS, BENCH_ROUND_MS,
 * BENCH_WATCHERS, BENCH_WATCH_CONNS, BENCH_WATCH_OPEN_RATE, BENCH_COLD_READS, BENCH_WARM_SECRETS; BENCH_NOTE adds a line
 * about the machine; BENCH_ONLY=f runs the watch figures (f)(g) alone and prints them as JSON. Loopback only.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FULL, runBench, runWatchOnly, SMOKE, type BenchParams } from './bench';
import { renderReport } from './report';

/** Everything after this line in BENCHMARKS.md is hand-written and kept by `npm run bench`. */
const KEPT = '<!-- hand-written below: npm run bench keeps it -->';

function params(smoke: boolean): BenchParams {
  const base = smoke ? SMOKE : FULL;
  const n = (name: string, dflt: number) => {
    const v = process.env[name];
    if (v === undefined || v === '') return dflt;
    const x = Number(v);
    if (!Number.isInteger(x) || x < 1) throw new RangeError(`${name} must be a positive integer, got ${JSON.stringify(v)}`);
    return x;
  };
  return {
    ...base,
    rounds: n('BENCH_ROUNDS', base.rounds),
    roundMs: n('BENCH_ROUND_MS', base.roundMs),
    watchers: n('BENCH_WATCHERS', base.watchers),
    watchConns: n('BENCH_WATCH_CONNS', base.watchConns),
    watchOpenRate: n('BENCH_WATCH_OPEN_RATE', base.watchOpenRate),
    coldReads: n('BENCH_COLD_READS', base.coldReads),
    warmSecrets: n('BENCH_WARM_SECRETS', base.warmSecrets),
  };
}

async function main(): Promise<number> {
  process.env.ALIBABA_CLOUD_ECS_METADATA_DISABLED = 'true';
  const smoke = process.argv.includes('--smoke') || process.env.BENCH_SMOKE === '1';
  const p = params(smoke);
  const t0 = Date.now();
  if (process.env.BENCH_ONLY === 'f') {
    // The watch figures alone, as JSON; BENCHMARKS.md is left as it is.
    process.stdout.write(`${JSON.stringify(await runWatchOnly(p, (line) => process.stderr.write(`bench: ${line}\n`)), null, 2)}\n`);
    return 0;
  }
  const results = await runBench(p, (line) => process.stderr.write(`bench: ${line}\n`));
  const command = `npm run bench${smoke ? ' -- --smoke' : ''}`;
  const report = renderReport(results, { command, env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('BENCH_') && k !== 'BENCH_NOTE') as [string, string][]), totalMs: Date.now() - t0, note: process.env.BENCH_NOTE });
  if (smoke) process.stdout.write(report);
  else {
    const file = join(__dirname, '..', 'BENCHMARKS.md');
    // The analysis below KEPT (where the time goes, what would meet a goal) is written by people and survives re-runs.
    const old = existsSync(file) ? readFileSync(file, 'utf8') : '';
    const at = old.indexOf(KEPT);
    writeFileSync(file, at >= 0 ? `${report.trimEnd()}\n\n${old.slice(at)}` : report);
    process.stdout.write(report);
    process.stderr.write('bench: wrote BENCHMARKS.md\n');
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: Error) => {
    process.stderr.write(`bench: ${e.stack ?? e.message}\n`);
    process.exit(1);
  },
);
