/**
 * Full-jitter exponential backoff (AWS Architecture Blog, "Exponential Backoff And Jitter"):
 * wait n is uniform in [0, min(cap, base·2ⁿ)). All values are milliseconds. The exponent is
 * clamped before it is used, so a large n never overflows to Infinity or NaN (the Go v2 client
 * waited 0 ms with default arguments; the Python v2 client mixed seconds and milliseconds).
 */
export interface BackoffPolicy {
  /** First window, ms. */
  baseDelayMs: number;
  /** Largest window, ms. */
  maxDelayMs: number;
}

/** The upper bound of the jitter window for retry `n` (0-based), in ms. */
export function backoffCeilingMs(n: number, p: BackoffPolicy): number {
  if (!(n >= 0)) return 0;
  const base = Math.max(0, p.baseDelayMs);
  const cap = Math.max(0, p.maxDelayMs);
  // 2^52 is exact in a double; beyond the point where base·2ⁿ ≥ cap the window is just cap.
  const exp = Math.min(Math.floor(n), 52);
  const window = base * 2 ** exp;
  return Number.isFinite(window) ? Math.min(cap, window) : cap;
}

/** A wait for retry `n`, in ms, drawn from [0, ceiling). `random` is injectable for tests. */
export function backoffDelayMs(n: number, p: BackoffPolicy, random: () => number = Math.random): number {
  return Math.floor(random() * backoffCeilingMs(n, p));
}
