#!/usr/bin/env node
// Makes sure the real components the test suite starts are installed. When one is missing and
// we are root with apt-get, it installs Debian's package; otherwise it stops with the command to
// run. It never lets the suite skip silently.
import { execFileSync, spawnSync } from 'node:child_process';

/** What the suite runs, how to tell it is there, and which Debian package provides it. */
const GO_PKGS = ['golang-go', 'golang-google-grpc-dev', 'golang-google-protobuf-dev', 'protoc-gen-go', 'protoc-gen-go-grpc', 'protobuf-compiler'];
const NEEDS = [
  { what: 'redis-server', check: ['redis-server', ['--version']], pkg: ['redis-server'] },
  // scripts/test.mjs re-runs the date-sensitive tests with the clock shifted by libfaketime.
  { what: 'faketime', check: ['faketime', ['-f', '+1d', 'true']], pkg: ['faketime'] },
  { what: 'redis-cli', check: ['redis-cli', ['--version']], pkg: ['redis-tools'] },
  { what: 'Python gRPC (/usr/bin/python3: grpc, grpc_tools)', check: ['/usr/bin/python3', ['-c', 'import grpc, grpc_tools']], pkg: ['python3-grpcio', 'python3-grpc-tools'] },
  { what: 'Go gRPC toolchain (go, protoc, protoc-gen-go, protoc-gen-go-grpc)', check: ['sh', ['-c', 'go version && protoc --version && command -v protoc-gen-go && command -v protoc-gen-go-grpc && test -d /usr/share/gocode/src/google.golang.org/grpc']], pkg: GO_PKGS },
  // grpc-go 1.33 decodes through github.com/golang/protobuf; its v1.3 cannot read protoc-gen-go's
  // messages (panic: "protobuf tag not enough fields"), v1.5 wraps the new API and can.
  { what: 'github.com/golang/protobuf v1.5', check: ['dpkg', ['-s', 'golang-github-golang-protobuf-1-5-dev']], pkg: ['golang-github-golang-protobuf-1-5-dev'] },
];

const ok = ([cmd, args]) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
const missing = NEEDS.filter((n) => !ok(n.check));
if (missing.length === 0) process.exit(0);

const pkgs = [...new Set(missing.flatMap((n) => n.pkg))];
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
