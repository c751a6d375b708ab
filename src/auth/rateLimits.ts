/**
 * Per-caller limits: a token bucket for GetSecret, one for opening watch streams, a separate and
 * smaller one for reads that miss the cache (a miss spends the cluster's shared KMS budget, so one
 * caller asking for random names must not starve everyone's refills). Concurrent streams are
 * capped by server/limits.ts, which counts what is open. The caller key is the server's choice (an identity, or `peer:<ip>` without one); this
 * module never puts it in a message, since messages reach the client and the key goes to the audit
 * line.
 *
 * Each bucket is kept in GCRA form: one number, the "theoretical arrival time" (TAT) of the next
 * token, refilled lazily from `now()` (no timers). It is the token bucket of kms/budget.ts with the
 * same behaviour (burst, then `ratePerSec`), and a bucket is full again exactly when TAT ≤ now, so
 * an idle caller can be dropped without changing any answer.
 *
 * Memory: at most `maxCallers` callers' buckets (LRU; each call also drops up to two least-recently
 * used callers whose buckets are all full again). Evicting a caller that is not idle resets it to a
 * full bucket, which is lenient, never stricter.
 */
import { LRUCache } from 'lru-cache';
import { ResourceExhaustedError } from '../errors';

/** One token bucket: `burst` tokens at once, refilled at `ratePerSec`. */
export interface RateOptions {
  /** Tokens added per second; > 0. */
  ratePerSec: number;
  /** Bucket size (the most calls allowed at once after an idle spell); ≥ 1. */
  burst: number;
}

export interface CallerLimitsOptions {
  /** Every GetSecret call, hit or miss. */
  getSecret: RateOptions;
  /** GetSecret reads that will miss the cache and spend KMS budget; smaller than `getSecret`. */
  missReads: RateOptions;
  /** Every WatchSecret open. */
  streamOpens: RateOptions;
  /**
   * Calls from one peer address that fail authentication: beyond it they get RESOURCE_EXHAUSTED
   * and no audit line each, so a peer sending garbage cannot turn into audit I/O. Callers that
   * authenticate never touch this bucket.
   */
  unauthenticated: RateOptions;
  /** Callers whose buckets are tracked at once (memory bound), e.g. 100000. */
  maxCallers: number;
  /** Monotonic milliseconds. @default performance.now */
  now?: () => number;
}

/** TATs (ms, on the `now()` scale) of one caller's three buckets. */
interface Buckets {
  getSecret: number;
  miss: number;
  streamOpen: number;
  unauthenticated: number;
}
type BucketName = keyof Buckets;

/** Float slack: TATs are sums of fractional intervals (1000/3 ms), which must not cost a 1 ms retry. */
const EPS_MS = 1e-6;

interface Rate {
  /** Milliseconds per token. */
  intervalMs: number;
  /** How far TAT may run ahead of now and still admit a call: (burst − 1) intervals. */
  toleranceMs: number;
}

const MESSAGES: Record<BucketName, string> = {
  getSecret: 'per-caller GetSecret rate limit reached',
  miss: 'per-caller cache-miss rate limit reached',
  streamOpen: 'per-caller WatchSecret open rate limit reached',
  unauthenticated: 'too many calls that failed authentication from this address',
};

export class CallerLimits {
  private readonly callers: LRUCache<string, Buckets>;
  private readonly rates: Record<BucketName, Rate>;
  private readonly now: () => number;

  constructor(opts: CallerLimitsOptions) {
    this.rates = {
      getSecret: rate('getSecret', opts.getSecret),
      miss: rate('missReads', opts.missReads),
      streamOpen: rate('streamOpens', opts.streamOpens),
      unauthenticated: rate('unauthenticated', opts.unauthenticated),
    };
    this.callers = new LRUCache<string, Buckets>({ max: count('maxCallers', opts.maxCallers) });
    this.now = opts.now ?? (() => performance.now());
  }

  /** Takes a GetSecret token, or throws ResourceExhaustedError with the ms until one is available. */
  takeGetSecret(caller: string): void {
    this.take(caller, 'getSecret');
  }

  /** Takes a stream-open token, or throws ResourceExhaustedError with the ms until one is available. */
  takeStreamOpen(caller: string): void {
    this.take(caller, 'streamOpen');
  }

  /**
   * Takes a token for a call that failed authentication, by peer address (`peer:<ip>`, a key no
   * identity can take), or throws ResourceExhaustedError with the ms until one is available.
   */
  takeUnauthenticated(peerKey: string): void {
    this.take(peerKey, 'unauthenticated');
  }

  /**
   * Takes a cache-miss token, or throws ResourceExhaustedError with the ms until one is available.
   * Call it once the read is known to go to KMS, just before the fill starts (e.g. from the
   * store's fill hook): it is the authoritative check, since it takes the token in the same tick.
   */
  takeMiss(caller: string): void {
    this.take(caller, 'miss');
  }

  /**
   * Whether `takeMiss(caller)` would succeed now, without taking anything or tracking the caller.
   * Advisory only (a concurrent request may take the token between the peek and the fill): use it to
   * skip work early, and still call `takeMiss` before spending KMS budget.
   */
  peekMiss(caller: string): boolean {
    const b = this.callers.peek(caller);
    return b === undefined || this.overMs(b.miss, this.rates.miss, this.now()) <= EPS_MS;
  }

  /** What is tracked (tests, metrics): callers with buckets. */
  counts(): { callers: number } {
    return { callers: this.callers.size };
  }

  private take(caller: string, which: BucketName): void {
    const now = this.now();
    this.dropIdle(now, caller);
    let b = this.callers.get(caller); // get() marks it most recently used
    if (b === undefined) {
      b = { getSecret: now, miss: now, streamOpen: now, unauthenticated: now }; // full: TAT not ahead of now
      this.callers.set(caller, b); // evicts the least recently used caller when at maxCallers
    }
    const r = this.rates[which];
    const over = this.overMs(b[which], r, now);
    if (over > EPS_MS) throw new ResourceExhaustedError(MESSAGES[which], Math.max(1, Math.ceil(over - EPS_MS)));
    b[which] = Math.max(b[which], now) + r.intervalMs;
  }

  /** How many ms past the tolerance a bucket's TAT is (≤ 0: a token is available now). */
  private overMs(tat: number, r: Rate, now: number): number {
    return tat - now - r.toleranceMs;
  }

  /**
   * Drops up to two least-recently-used callers whose buckets are all full again (no state lost).
   * Never the caller being served (it would be re-created at once) nor the last one left: lru-cache
   * empties itself by clearing its whole preallocated key and value arrays (`maxCallers` slots), so
   * dropping a lone caller on every call made each call O(maxCallers).
   */
  private dropIdle(now: number, serving: string): void {
    for (let i = 0; i < 2 && this.callers.size > 1; i++) {
      const oldest = this.callers.rkeys().next();
      if (oldest.done || oldest.value === serving) return;
      const b = this.callers.peek(oldest.value)!;
      if (b.getSecret > now || b.miss > now || b.streamOpen > now || b.unauthenticated > now) return;
      this.callers.delete(oldest.value);
    }
  }
}

function rate(name: string, o: RateOptions): Rate {
  if (!(Number.isFinite(o?.ratePerSec) && o.ratePerSec > 0)) throw new RangeError(`${name}.ratePerSec must be a positive number`);
  if (!(Number.isFinite(o.burst) && o.burst >= 1)) throw new RangeError(`${name}.burst must be at least 1`);
  const intervalMs = 1000 / o.ratePerSec;
  return { intervalMs, toleranceMs: (o.burst - 1) * intervalMs };
}

function count(name: string, n: number): number {
  if (!(Number.isInteger(n) && n >= 1)) throw new RangeError(`${name} must be an integer of at least 1`);
  return n;
}
