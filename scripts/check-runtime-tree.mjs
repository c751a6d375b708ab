#!/usr/bin/env node
// Checks a production runtime tree (scripts/image-tree.sh builds one the way the Dockerfile does):
// nothing of the emulator, node-forge, a dev dependency, a test or the demo secrets is in it, and
// `secrets-gateway dev` there refuses with the pointer to the dev image instead of starting.
//   node scripts/check-runtime-tree.mjs DIR [package-lock.json]
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: check-runtime-tree.mjs DIR');
  process.exit(2);
}
const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
const problems = [];
const files = [];
const walk = (d) => {
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = join(d, e.name);
    if (e.isDirectory()) walk(p);
    else files.push(relative(dir, p));
  }
};
walk(dir);

const top = readdirSync(dir).sort();
const allowedTop = ['bin', 'dist', 'node_modules', 'package.json', 'proto'];
for (const t of top) if (!allowedTop.includes(t)) problems.push(`unexpected top-level entry: ${t}`);

// Nothing the lockfile marks dev-only (a dev dependency, or only reachable from one: the emulator
// and its node-forge included) may be installed. @types/node, say, is also a production
// dependency's dependency, so it may.
const lockPath = process.argv[3] ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'package-lock.json');
const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
const devOnly = Object.entries(lock.packages ?? {}).filter(([p, v]) => p.startsWith('node_modules/') && v.dev).map(([p]) => p);
if (!devOnly.includes('node_modules/node-forge')) problems.push('the lockfile no longer marks node-forge dev-only');
for (const p of devOnly) if (existsSync(join(dir, p))) problems.push(`dev-only package installed: ${p}`);
for (const f of files) {
  const ours = !f.startsWith('node_modules/');
  if (/(^|\/)kms-emulator(\/|$)/.test(f) || (ours && /emulator/i.test(f) && !f.startsWith('dist/cli/emulator.'))) problems.push(`emulator file: ${f}`);
  if (/demo-secrets\.ya?ml$/.test(f)) problems.push(`demo secrets: ${f}`);
  if (ours && (/\.test\.[cm]?[jt]s$/.test(f) || f.startsWith('test/'))) problems.push(`test file: ${f}`);
  if (ours && /\.ts$/.test(f) && !f.endsWith('.d.ts')) problems.push(`TypeScript source: ${f}`);
}
// The built code itself never names node-forge or the emulator's modules.
for (const f of files.filter((f) => f.startsWith('dist/') && f.endsWith('.js'))) {
  const text = readFileSync(join(dir, f), 'utf8');
  if (/require\(["']node-forge["']\)/.test(text)) problems.push(`${f} requires node-forge`);
  if (/require\(["'][./]*emulator\/|src\/emulator/.test(text)) problems.push(`${f} requires an emulator module`);
}

const run = (args) => spawnSync(process.execPath, [join(dir, 'bin', 'secrets-gateway.js'), ...args], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: '/nonexistent' }, timeout: 30_000 });
const dev = run(['dev']);
if (dev.status !== 1 || !/needs the KMS emulator .*Dockerfile's `dev` target/s.test(dev.stderr)) problems.push(`\`dev\` in the runtime tree did not refuse as expected (exit ${dev.status}): ${dev.stderr.trim().slice(0, 400)}`);
const help = run(['help']);
if (help.status !== 0) problems.push(`\`help\` failed in the runtime tree: ${help.stderr.trim().slice(0, 400)}`);
const serve = run(['serve']);
if (serve.status !== 1 || !/configuration error/.test(serve.stderr)) problems.push(`\`serve\` without config should stop with a configuration error (exit ${serve.status}): ${serve.stderr.trim().slice(0, 400)}`);

const size = files.reduce((n, f) => n + statSync(join(dir, f)).size, 0);
if (problems.length) {
  console.error(`check-runtime-tree: ${problems.length} problem(s) in ${dir}:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
const deps = readdirSync(join(dir, 'node_modules')).filter((n) => !n.startsWith('.')).length;
console.log(`check-runtime-tree: ok: ${files.length} files, ${(size / 1e6).toFixed(1)} MB, ${deps} top-level node_modules entries; no emulator, no node-forge, none of ${devOnly.length} dev-only packages, no tests, no demo secrets; \`dev\` refuses with the pointer to the dev image`);
