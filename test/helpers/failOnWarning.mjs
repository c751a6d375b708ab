// Preloaded (NODE_OPTIONS=--import) into every Node process of `npm test`: ava, its workers, and
// the gateway and replica processes the tests spawn. A process warning (MaxListenersExceeded,
// TimeoutOverflowWarning, a deprecation, ...) is a defect, so it fails the run: it is printed with
// its stack and then thrown, which ava reports as an uncaught exception in the test file, and
// which ends a child process with a non-zero exit that its test sees.
//
// A test that must trigger a warning says so with `expectWarnings()` (test/helpers/warnings.ts);
// only the warnings it names, while its callback runs, are let through.
//
// Plain JavaScript on purpose: it is loaded before tsx, into processes that may not load tsx.
const ALLOWED = Symbol.for('secrets-gateway.test.allowedWarnings');
/** @type {Set<(w: Error) => boolean>} */
const allowed = (globalThis[ALLOWED] ??= new Set());

process.on('warning', (warning) => {
  for (const match of allowed) if (match(warning)) return;
  const err = new Error(`process warning (warnings fail the test run): ${warning.name}: ${warning.message}`);
  err.stack = `${err.message}\n  warning stack: ${warning.stack ?? '(none)'}`;
  process.stderr.write(`${err.stack}\n`);
  throw err;
});
