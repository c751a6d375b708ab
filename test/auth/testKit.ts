/** Shared bits of the auth tests: a capturing logger, a temp dir, atomic file writes, a condition wait. */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { createLogger, type Logger } from '../../src/telemetry/logger';

/** A real logger (with its redaction) whose lines the test can read. */
export function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: createLogger({ level: 'debug', sink: (l) => lines.push(l) }), lines };
}

/** A fresh temp directory, removed after the test. */
export function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'sg-auth-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

let seq = 0;
/** Replaces `file` in one step (write beside it, then rename), as a ConfigMap update does. */
export function replaceFile(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.${++seq}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/**
 * Resolves once `cond()` holds. Polls on a ref'd timer: the watchers under test are unref'd and
 * would otherwise leave ava an empty event loop. Bounded only by ava's test timeout.
 */
export function until(cond: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    if (cond()) return resolve();
    const timer = setInterval(() => {
      if (cond()) {
        clearInterval(timer);
        resolve();
      }
    }, 10);
  });
}
