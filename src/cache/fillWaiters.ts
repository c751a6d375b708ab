/**
 * Followers of a cluster fill wait here for the "written"/"evicted" message of their entry's tag,
 * with a timeout that turns the wait into a bounded poll of the shared tier (pub/sub is
 * best-effort: a message can be lost across a reconnect). The number of registered waiters is
 * bounded; past the bound a follower just sleeps out its poll interval.
 */
export type WakeReason = 'notified' | 'timeout' | 'aborted';

export class FillWaiters {
  private readonly byTag = new Map<string, Set<(r: WakeReason) => void>>();
  private count = 0;

  constructor(private readonly max: number) {}

  /** Registered waiters right now. */
  get pending(): number {
    return this.count;
  }

  /** Resolves (never rejects) on notify(tag), after `timeoutMs`, or when `signal` aborts. */
  wait(tag: string, timeoutMs: number, signal?: AbortSignal): Promise<WakeReason> {
    if (signal?.aborted) return Promise.resolve('aborted');
    return new Promise<WakeReason>((resolve) => {
      const register = this.count < this.max;
      const wake = (reason: WakeReason) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (register) {
          const set = this.byTag.get(tag);
          if (set?.delete(wake)) {
            this.count--;
            if (set.size === 0) this.byTag.delete(tag);
          }
        }
        resolve(reason);
      };
      const onAbort = () => wake('aborted');
      const timer = setTimeout(() => wake('timeout'), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (register) {
        let set = this.byTag.get(tag);
        if (!set) this.byTag.set(tag, (set = new Set()));
        set.add(wake);
        this.count++;
      }
    });
  }

  notify(tag: string): void {
    const set = this.byTag.get(tag);
    if (!set) return;
    for (const wake of [...set]) wake('notified');
  }

  /** Wakes everyone (as aborted). */
  close(): void {
    for (const set of [...this.byTag.values()]) for (const wake of [...set]) wake('aborted');
  }
}
