#!/usr/bin/env node
// The import graph of src/ keeps to architecture.md's "must not" column, and has no cycle.
// Reads every import (type-only ones too) with the TypeScript parser; run by `npm run lint`.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');

/** [files matching `from`, import matching `to`, why]. Paths are relative to src/, or package names. */
const RULES = [
  [/^kms\//, /^@grpc\//, 'kms/ must not import grpc'],
  [/^cache\//, /^@grpc\//, 'cache/ must not import grpc'],
  [/^cluster\//, /^@grpc\//, 'cluster/ must not import grpc'],
  [/^telemetry\//, /^config\//, 'telemetry/ must not import config/'],
  [/^watch\//, /^auth\//, 'watch/ must not know about auth'],
  [/^auth\//, /^(kms|cache|watch)\//, 'auth/ must not know about KMS or the cache'],
  [/^(?!cli\/)/, /^@secrets-gateway\/kms-emulator/, 'production paths must not import the emulator package (only cli/ loads it, for dev mode)'],
];

const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) files.push(p);
  }
})(src);

const graph = new Map();
const problems = [];
for (const file of files) {
  const from = relative(src, file);
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  const deps = [];
  const visit = (node) => {
    const spec =
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)
        ? node.moduleSpecifier.text
        : ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])
          ? node.arguments[0].text
          : undefined;
    if (spec) {
      const target = spec.startsWith('.') ? relative(src, resolveTs(resolve(dirname(file), spec))) : spec;
      deps.push(target);
      for (const [f, t, why] of RULES) if (f.test(from) && t.test(target)) problems.push(`${from} imports ${target}: ${why}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  graph.set(from, deps.filter((d) => graph !== undefined && d.endsWith('.ts')));
}

function resolveTs(p) {
  for (const c of [`${p}.ts`, join(p, 'index.ts')]) {
    try {
      if (statSync(c).isFile()) return c;
    } catch {}
  }
  return p;
}

// Cycles: depth-first search over the file graph.
const state = new Map();
const stack = [];
function dfs(n) {
  state.set(n, 1);
  stack.push(n);
  for (const d of graph.get(n) ?? []) {
    if (state.get(d) === 1) problems.push(`import cycle: ${[...stack.slice(stack.indexOf(d)), d].join(' → ')}`);
    else if (!state.has(d)) dfs(d);
  }
  stack.pop();
  state.set(n, 2);
}
for (const n of graph.keys()) if (!state.has(n)) dfs(n);

if (problems.length) {
  console.error(`check-imports: ${problems.length} problem(s)\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`check-imports: ${files.length} files, no cycle, every layering rule holds`);
