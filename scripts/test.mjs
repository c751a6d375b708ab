#!/usr/bin/env node
// `npm test`: the whole suite, twice over the date-sensitive part.
//   1. every test, on the real clock;
//   2. the tests whose results could depend on the date (emulator, kms, cache, watch) again with
//      the clock of every Node process moved CLOCK_SHIFTS ahead and behind by libfaketime. A test
//      that seeds a date which will pass fails run 2 today, not on the day the date passes.
// Both runs preload test/helpers/failOnWarning.mjs into every Node process, so a process warning
// fails the run. `npm test -- <ava args>` runs only ava with those args, on the real clock.
// redis-server cannot run under libfaketime 0.9 (its allocator recurses into clock_gettime), so
// the Redis helpers start it on the real clock (test/helpers/realClock.ts): the gateway takes
// lease and budget times from Redis TIME and never compares them with its own clock, so a
// 400-day skew between the two is a case it must handle anyway.
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLOCK_SHIFTS = ['+400d', '-400d'];
const DATE_SENSITIVE = ['test/emulator/**/*.test.ts', 'test/kms/**/*.test.ts', 'test/cache/**/*.test.ts', 'test/watch/**/*.test.ts'];
const ava = join(root, 'node_modules', 'ava', 'entrypoints', 'cli.mjs');
const preload = `--import=${pathToFileURL(join(root, 'test', 'helpers', 'failOnWarning.mjs')).href}`;
const baseEnv = { ...process.env, NODE_OPTIONS: [process.env.NODE_OPTIONS, preload].filter(Boolean).join(' ') };

/** Runs ava, echoing its output, and returns its exit code and the counts from its summary. */
function runAva(label, args, env, prefix = []) {
  console.log(`\n=== ${label}`);
  return new Promise((resolve) => {
    const child = spawn(prefix[0] ?? process.execPath, [...prefix.slice(1), ...(prefix.length ? [process.execPath] : []), ava, ...args], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (b) => {
      process.stdout.write(b);
      out += b.toString();
    });
    child.on('exit', (code, signal) => {
      // ava's summary omits the passed count when something failed: count its per-test marks.
      const marks = (re) => out.split('\n').filter((l) => re.test(l)).length;
      const passed = marks(/^\s*✔/);
      const failed = marks(/^\s*✘/);
      const skipped = marks(/^\s*- \[(skip|todo)\]/);
      resolve({ code: code ?? (signal ? 1 : 0), passed, failed, skipped });
    });
  });
}

/** The shift must really move Node's clock, or run 2 would pass without testing anything. */
function checkFaketime(shift) {
  const r = spawnSync('faketime', ['-f', shift, process.execPath, '-p', 'Date.now()'], { encoding: 'utf8' });
  const days = (Number(r.stdout) - Date.now()) / 86_400_000;
  const want = Number(shift.replace('d', ''));
  if (r.status !== 0 || !(Math.abs(days - want) < 1)) {
    console.error(`test: faketime ${shift} did not move the clock (moved ${days.toFixed(2)} days; ${r.stderr?.trim() ?? ''}). Install Debian's faketime package.`);
    process.exit(1);
  }
}

const args = process.argv.slice(2);
const results = [];
if (args.length > 0) {
  results.push(await runAva(`ava ${args.join(' ')}`, args, baseEnv));
} else {
  results.push(await runAva('all tests, real clock', [], baseEnv));
  for (const shift of CLOCK_SHIFTS) {
    checkFaketime(shift);
    const env = { ...baseEnv, SG_TEST_CLOCK_SHIFT: shift };
    results.push(await runAva(`date-sensitive tests, clock shifted ${shift} (libfaketime)`, DATE_SENSITIVE, env, ['faketime', '-f', shift]));
  }
}
const sum = (k) => results.reduce((n, r) => n + r[k], 0);
const ok = results.every((r) => r.code === 0);
console.log(`\ntests: ${sum('passed')} passed, ${sum('failed') + (ok ? 0 : results.filter((r) => r.code !== 0 && r.failed === 0).length)} failed, ${sum('skipped')} skipped`);
process.exit(ok ? 0 : 1);
