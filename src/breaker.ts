/**
 * A circuit breaker: `failureThreshold` consecutive failures open it; after `openMs` one
 * half-open probe is let through; its success closes the breaker, its failure reopens it.
 * Used per KMS target (kms/) and around the shared Redis tier (cache/).
 */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  failureThreshold: number;
  openMs: number;
  now?: () => number;
  /** Called when the breaker settles closed or open (not on the lazy open → half-open move). */
  onStateChange?: (state: 'closed' | 'open') => void;
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

  /** Whether `tryAcquire` would succeed now, without taking the half-open probe slot. */
  get wouldAllow(): boolean {
    const s = this.state;
    return s === 'closed' || (s === 'half-open' && !this.probing);
  }

  /** Epoch ms from which `tryAcquire` may succeed (≤ now: it may now), or `null` while the half-open probe is out. */
  readyAt(): number | null {
    const s = this.state;
    if (s === 'closed') return 0;
    if (s === 'half-open') return this.probing ? null : 0;
    return this.openedAt + this.opts.openMs;
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
    this.settle('closed');
  }

  onFailure(): void {
    this.probing = false;
    this.failures++;
    if (this._state !== 'closed' || this.failures >= this.opts.failureThreshold) {
      this.openedAt = this.now();
      this.settle('open');
    }
  }

  /** The last closed/open verdict, so a failed half-open probe does not report `open` twice. */
  private settled: 'closed' | 'open' = 'closed';

  private settle(state: 'closed' | 'open'): void {
    this._state = state;
    if (this.settled !== state) {
      this.settled = state;
      this.opts.onStateChange?.(state);
    }
  }

  /** Releases a half-open probe slot without a verdict (the call was abandoned). */
  release(): void {
    this.probing = false;
  }
}
