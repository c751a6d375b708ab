#!/usr/bin/env node
// Makes sure the real components the test suite starts are installed. When one is missing and
// we are root with apt-get, it installs Debian's package; otherwise it stops with the command to
// run. It never lets the suite skip silently.
import { execFileSync, spawnSync } from 'node:child_process';

/** What the suite runs, how to tell it is there, and which Debian package provides it. */
const NEEDS = [
  { what: 'redis-server', check: ['redis-server', ['--version']], pkg: 'redis-server' },
  { what: 'redis-cli', check: ['redis-cli', ['--version']], pkg: 'redis-tools' },
];

const ok = ([cmd, args]) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
const missing = NEEDS.filter((n) => !ok(n.check));
if (missing.length === 0) process.exit(0);

const pkgs = [...new Set(missing.map((n) => n.pkg))];
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (isRoot && ok(['apt-get', ['--version']])) {
  console.error(`ensure-test-deps: installing ${pkgs.join(' ')} (missing: ${missing.map((n) => n.what).join(', ')})`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', ...pkgs], { stdio: 'inherit', env });
  const still = missing.filter((n) => !ok(n.check));
  if (still.length === 0) process.exit(0);
  console.error(`ensure-test-deps: still missing after install: ${still.map((n) => n.what).join(', ')}`);
  process.exit(1);
}
console.error(
  `ensure-test-deps: the test suite needs ${missing.map((n) => n.what).join(', ')}.\n` +
    `Install it with:  sudo apt-get install -y ${pkgs.join(' ')}\n` +
    `(the tests start private instances on loopback; they never skip when it is missing)`,
);
process.exit(1);
