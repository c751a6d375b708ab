/**
 * Outlier ejection for connection-level failures (refused, reset, DNS, TLS handshake), after
 * Envoy's outlier detection with one consecutive local-origin failure: the first such failure
 * takes the target out of rotation at once, for an interval that doubles with each ejection in a
 * row (base·2ⁿ⁻¹, capped). When the interval is over, one half-open probe may go; an exchange with
 * the target (any answer, even an error) brings it back, another connection failure ejects it for
 * longer. The count starts over once the target has stayed in for a whole `maxMs`. This is kept
 * apart from the circuit breaker, which counts consecutive bad answers: a refused connection
 * costs KMS nothing and says nothing about how the service behaves once reached.
 */
export interface EjectionOptions {
  /** First ejection, ms. */
  baseMs: number;
  /** Longest ejection, ms; also the quiet period after which the count starts over. */
  maxMs: number;
  now?: () => number;
}

export type EjectionState = 'in' | 'ejected' | 'probing';

export class OutlierEjection {
  private out = false;
  private probing = false;
  private count = 0;
  private until = 0;
  private returnedAt = -Infinity;
  private readonly now: () => number;

  constructor(private readonly opts: EjectionOptions) {
    this.now = opts.now ?? Date.now;
  }

  get state(): EjectionState {
    return !this.out ? 'in' : this.probing ? 'probing' : 'ejected';
  }

  /** Ejections in a row (for operators and tests). */
  get ejections(): number {
    return this.count;
  }

  /**
   * Epoch ms from which a request may go (≤ now: it may go now), or `null` while another call's
   * probe is out (its outcome decides).
   */
  readyAt(): number | null {
    if (!this.out) return 0;
    if (this.probing) return null;
    return this.until;
  }

  /** Whether a request may go now; while ejected and the interval is over, takes the one probe slot. */
  tryAcquire(): boolean {
    if (!this.out) return true;
    if (this.probing || this.now() < this.until) return false;
    this.probing = true;
    return true;
  }

  /** A connection-level failure. A straggler that failed while the target was already out changes nothing. */
  eject(): void {
    const now = this.now();
    if (this.out && !this.probing) return;
    if (!this.out && now - this.returnedAt >= this.opts.maxMs) this.count = 0;
    this.count++;
    this.out = true;
    this.probing = false;
    this.until = now + this.intervalMs();
  }

  /** The target was reached (whatever it answered). */
  onReached(): void {
    if (!this.out) return;
    this.out = false;
    this.probing = false;
    this.returnedAt = this.now();
  }

  /** Frees the probe slot without a verdict (the attempt was abandoned). */
  release(): void {
    this.probing = false;
  }

  private intervalMs(): number {
    const { baseMs, maxMs } = this.opts;
    return Math.min(maxMs, baseMs * 2 ** Math.min(this.count - 1, 30));
  }
}
