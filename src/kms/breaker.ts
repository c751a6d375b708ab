/**
 * A per-target circuit breaker. `failureThreshold` consecutive failures open it; after `openMs`
 * one half-open probe is let through; its success closes the breaker, its failure reopens it.
 */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  failureThreshold: number;
  openMs: number;
  now?: () => number;
}

export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private probing = false;
  private _state: BreakerState = 'closed';
  private readonly now: () => number;

  constructor(private readonly opts: BreakerOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** The state, moving open → half-open once the open period has passed. */
  get state(): BreakerState {
    if (this._state === 'open' && this.now() - this.openedAt >= this.opts.openMs) {
      this._state = 'half-open';
      this.probing = false;
    }
    return this._state;
  }

  /** Whether a request may go now. In half-open, only one probe at a time. Call `onSuccess`/`onFailure` after. */
  tryAcquire(): boolean {
    const s = this.state;
    if (s === 'closed') return true;
    if (s === 'half-open' && !this.probing) {
      this.probing = true;
      return true;
    }
    return false;
  }

  onSuccess(): void {
    this.failures = 0;
    this.probing = false;
    this._state = 'closed';
  }

  onFailure(): void {
    this.probing = false;
    this.failures++;
    if (this._state === 'half-open' || this.failures >= this.opts.failureThreshold) {
      this._state = 'open';
      this.openedAt = this.now();
    }
  }

  /** Releases a half-open probe slot without a verdict (the call was abandoned). */
  release(): void {
    this.probing = false;
  }
}
