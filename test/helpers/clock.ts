/**
 * Dates for seeds and assertions, relative to the clock the test runs on: a seeded date is never a
 * fixed calendar date that will one day pass (scripts/test.mjs re-runs the date-sensitive tests with
 * the clock moved 400 days either way to keep it so).
 */
import { isoSeconds } from '@secrets-gateway/kms-emulator/time';

const DAY_MS = 86_400_000;

/** `YYYY-MM-DDTHH:mm:ssZ`, `days` from now (negative: in the past), as the KMS wire writes dates. */
export function isoDaysFromNow(days: number, now: number = Date.now()): string {
  return isoSeconds(now + days * DAY_MS);
}

const isClockVar = (k: string) => k === 'LD_PRELOAD' || k.startsWith('FAKETIME');

/**
 * The environment for a child that must run on the real clock even when the suite runs under
 * libfaketime (scripts/test.mjs): redis-server and redis-cli cannot start with libfaketime
 * preloaded (their allocator recurses into clock_gettime). The gateway reads lease, interest and
 * budget times from Redis TIME and never compares them with its own clock, so the skew this
 * leaves is one it must survive anyway.
 */
export function realClockEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !isClockVar(k)));
}

/**
 * What a Node child started with a hand-built environment keeps from the test run: the clock
 * (it must see the same, possibly shifted, time as the emulator and the certificates this process
 * made) and NODE_OPTIONS (the preload that fails the run on a process warning).
 */
export function testRunEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => (isClockVar(e[0]) || e[0] === 'NODE_OPTIONS') && e[1] !== undefined));
}
