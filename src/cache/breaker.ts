/**
 * The circuit breaker around the shared tier. While it is open every call fails at once with
 * SharedTierUnavailableError (the store then works from L1 and the source, with in-process
 * single-flight only); after `openMs` one probe goes through, and its success returns the store to
 * the shared tier by itself when Redis is back. The state machine is the shared `CircuitBreaker`.
 */
import { CircuitBreaker, type BreakerOptions, type BreakerState } from '../breaker';
import { BackendUnavailableError } from '../errors';

export type { BreakerOptions, BreakerState };

/** The shared tier is unavailable (breaker open, or the call failed). Never leaves the cache module via get(). */
export class SharedTierUnavailableError extends BackendUnavailableError {}

export class Breaker {
  private readonly cb: CircuitBreaker;

  constructor(opts: BreakerOptions) {
    this.cb = new CircuitBreaker(opts);
  }

  get state(): BreakerState {
    return this.cb.state;
  }

  /** True when a call would be attempted now. */
  get available(): boolean {
    return this.cb.wouldAllow;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.cb.tryAcquire()) throw new SharedTierUnavailableError('shared cache unavailable (circuit open)');
    try {
      const out = await fn();
      this.cb.onSuccess();
      return out;
    } catch (err) {
      this.cb.onFailure();
      throw new SharedTierUnavailableError('shared cache call failed', {}, { cause: err });
    }
  }

  /**
   * Like `run`, but a reply that timed out is asked for once more. An event loop busy with a
   * burst of calls fires a command's timer before it reads a reply that arrived in time; failing
   * over to KMS on that would cost a KMS call per replica. `fn` must be safe to repeat.
   */
  async runPatient<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await this.run(fn);
    } catch (err) {
      if (!(err instanceof SharedTierUnavailableError) || !isTimeout(err.cause) || !this.available) throw err;
      return this.run(fn);
    }
  }
}

/** ioredis rejects a command whose reply is late with this message (Command.js). */
const isTimeout = (err: unknown): boolean => err instanceof Error && err.message === 'Command timed out';
