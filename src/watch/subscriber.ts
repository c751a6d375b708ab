/**
 * One stream's mailbox: a single slot that holds only the newest pending update (SPIRE's
 * capacity-1 subscriber channel). A slow stream therefore costs one message of memory however many
 * rotations happen while it is blocked, and always gets the latest state when it catches up.
 */
import type { ReadResult } from './reader';

export class CoalescingSubscriber {
  private pending: ReadResult | undefined;
  private endError: Error | undefined;
  private wake: (() => void) | undefined;

  /** Replaces whatever was pending: older versions are superseded, never queued. */
  push(update: ReadResult): void {
    this.pending = update;
    this.wake?.();
  }

  /** Ends the subscription: the next `next()` throws `err` (it wins over a pending update). */
  end(err: Error): void {
    this.endError ??= err;
    this.wake?.();
  }

  get ended(): boolean {
    return this.endError !== undefined;
  }

  /**
   * Takes the pending update, waiting up to `timeoutMs` for one; undefined when the wait timed
   * out (a heartbeat is due). Throws the end error, or `signal.reason` when the signal aborts.
   * One caller at a time (the stream's delivery loop).
   */
  async next(signal: AbortSignal, timeoutMs: number): Promise<ReadResult | undefined> {
    const take = () => {
      if (this.endError) throw this.endError;
      if (signal.aborted) throw signal.reason;
      const p = this.pending;
      this.pending = undefined;
      return p;
    };
    const ready = take();
    if (ready) return ready;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal.addEventListener('abort', done, { once: true });
      this.wake = done;
    });
    return take();
  }
}
