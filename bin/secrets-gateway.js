#!/usr/bin/env node
'use strict';
// Runs the built CLI (dist/) when present; in a source checkout without a build, runs the
// TypeScript sources through tsx so `npx secrets-gateway …` works right after `npm ci`.
const path = require('node:path');
const fs = require('node:fs');

// The KMS emulator (dev mode, kms-emulator) is a TypeScript dev dependency: with a build, those
// commands still need tsx to load it; where tsx is absent (the production image) so is the emulator,
// and the command says so.
const EMULATOR_COMMANDS = new Set(['dev', 'kms-emulator']);
const built = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
let cli;
if (fs.existsSync(built)) {
  if (EMULATOR_COMMANDS.has(process.argv[2])) {
    try {
      require('tsx/cjs');
    } catch {
      // no tsx: no emulator either; the command reports it
    }
  }
  cli = require(built);
} else {
  require('tsx/cjs');
  cli = require(path.join(__dirname, '..', 'src', 'cli', 'main.ts'));
}
cli.main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`secrets-gateway: ${e && e.message}\n`);
    process.exit(1);
  },
);
