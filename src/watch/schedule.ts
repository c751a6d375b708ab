/**
 * When the poller looks at a key next. Pure, so the cadence rules are unit-tested without timers.
 *
 * - Base cadence: `intervalMs` shortened by a random fraction up to `jitter`, so keys watched
 *   since the same moment (a restart, a Redis flush) spread out instead of polling in lockstep
 *   (ESO #4231), and `intervalMs` stays an upper bound on detection delay.
 * - Rotation-aware: when KMS says it rotates the secret before the next poll, poll
 *   `rotationDelayMs` after that moment instead.
 * - Rotation overdue (its time passed but KMS still reports the old version): KMS rotates
 *   asynchronously, so poll again every `rotationDelayMs`, for at most one interval after the due
 *   time; then the base cadence resumes (a stale NextRotationDate cannot cause a poll storm).
 */

export interface PollCadence {
  intervalMs: number;
  /** 0–0.5: fraction of the interval that may be cut at random. */
  jitter: number;
  rotationDelayMs: number;
}

export function nextPollDelayMs(now: number, cadence: PollCadence, nextRotationTimeMs: number | undefined, random: () => number = Math.random): number {
  const base = Math.max(1, Math.round(cadence.intervalMs * (1 - cadence.jitter * random())));
  if (nextRotationTimeMs === undefined || !Number.isFinite(nextRotationTimeMs)) return base;
  const checkAt = nextRotationTimeMs + cadence.rotationDelayMs;
  if (checkAt > now) return Math.min(base, checkAt - now);
  if (now - nextRotationTimeMs < cadence.intervalMs) return Math.max(1, Math.min(base, cadence.rotationDelayMs));
  return base;
}
