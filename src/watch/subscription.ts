/**
 * One stream's subscription to a watched key, as the hub hands it out: the stream's coalescing
 * slot and the key's shared state. A class, so an idle stream holds one small object rather than
 * a closure per method (50,000 idle streams per replica is the scale this is sized for).
 */
import type { KeyState } from './keyState';
import type { FreshnessInfo, ReadResult } from './reader';
import type { CoalescingSubscriber } from './subscriber';

export class KeySubscription {
  private closed = false;

  /**
   * `state` is unset when the hub was closed before the stream subscribed (`sub` has ended then);
   * `release` (shared by all of the hub's subscriptions) runs once, on the first `close()`.
   */
  constructor(
    private readonly sub: CoalescingSubscriber,
    private readonly state: KeyState | undefined,
    private readonly tag: string,
    private readonly release: (tag: string, state: KeyState, sub: CoalescingSubscriber) => void,
  ) {}

  async initial(signal: AbortSignal): Promise<ReadResult> {
    // Ended before it started (hub closing, secret gone): next() throws the reason.
    if (this.sub.ended || !this.state) await this.sub.next(signal, 0);
    return this.state!.initial(signal);
  }

  next(signal: AbortSignal, timeoutMs: number): Promise<ReadResult | undefined> {
    return this.sub.next(signal, timeoutMs);
  }

  freshness(): FreshnessInfo | undefined {
    return this.state?.freshness();
  }

  close(): void {
    if (this.closed || !this.state) return;
    this.closed = true;
    this.release(this.tag, this.state, this.sub);
  }
}
