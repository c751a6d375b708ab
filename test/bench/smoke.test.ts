/**
 * The benchmark's CI smoke: every figure of `npm run bench` run tiny (bench/bench.ts SMOKE), so the
 * harness keeps working and the behaviour the figures stand on keeps holding. Counts only, never a
 * timing: one KMS call for cold reads through the shared tier and one per process without it, one
 * per rotation for every watcher, one per warmed-up secret, and answers from pre-encoded bytes.
 */
import test from 'ava';
import { runBench, SMOKE } from '../../bench/bench';
import { renderReport } from '../../bench/report';

test('npm run bench -- --smoke: every figure runs, and the behaviour counters hold', async (t) => {
  t.timeout(240_000); // the first run on a machine also builds the Go load generator
  const r = await runBench(SMOKE);

  for (const [name, fig] of Object.entries({ a: r.a, b: r.b, c: r.c, d: r.d })) {
    for (const side of ['gateway', 'baseline'] as const) {
      const s = fig[side];
      t.is(s.errors, 0, `(${name}) ${side}: calls failed`);
      t.true(s.rounds.every((x) => x.count > 0), `(${name}) ${side}: a round answered nothing`);
    }
    // The baseline answers the same contract with an answer of the gateway's size.
    t.true(Math.abs(fig.gateway.respBytes - fig.baseline.respBytes) <= 10, `(${name}) answer sizes ${fig.gateway.respBytes} vs ${fig.baseline.respBytes}`);
  }

  // The hot path still answers L1 hits from bytes encoded once per entry (a counter, not a timing).
  t.true((r.a.preencodedAnswers ?? 0) > 0, `L1 hits in (a) were not answered from pre-encoded bytes (${r.a.preencodedAnswers})`);

  t.deepEqual(
    { shared: [r.e.shared.answered, r.e.shared.kmsCalls], perProcess: [r.e.perProcess.answered, r.e.perProcess.kmsCalls] },
    { shared: [SMOKE.coldReads, 1], perProcess: [SMOKE.coldReads, 3] },
    '(e) cold reads: answered and KMS calls',
  );
  t.deepEqual({ opened: r.f.firstMessages, delivered: r.f.delivered, kmsCalls: r.f.kmsCalls }, { opened: SMOKE.watchers, delivered: SMOKE.watchers, kmsCalls: 1 }, '(f) one rotation');
  t.true(r.f.rssPerStreamKiB > 0, '(g) RSS per stream measured');
  t.is(r.h.warmUpKmsCalls, SMOKE.warmSecrets, '(h) warm-up calls KMS once per secret');

  const report = renderReport(r, { command: 'npm run bench -- --smoke', env: {}, totalMs: 0 });
  for (const row of ['(a)', '(b)', '(c)', '(d)', '(e)', '(f)', '(g)', '(h)']) t.true(report.includes(`| ${row} `), `report row ${row}`);
});
