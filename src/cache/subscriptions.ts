/**
 * Local listeners of cache updates, per entry tag (bounded). This is the seam for watch/: it
 * subscribes with a selector and learns "version X of this selector was written" or "evicted",
 * whichever replica did it, without knowing about Redis or tags.
 */
import { ResourceExhaustedError } from '../errors';
import type { SecretSelector } from '../model';
import type { Logger } from '../telemetry/logger';
import type { CacheUpdate, CacheUpdateListener } from './events';

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;
export type TagUpdate = DistributiveOmit<CacheUpdate, 'selector'>;

export class Subscriptions {
  private readonly byTag = new Map<string, { sel: SecretSelector; listeners: Set<CacheUpdateListener> }>();
  private count = 0;

  constructor(
    private readonly max: number,
    private readonly logger: Logger,
  ) {}

  get size(): number {
    return this.count;
  }

  /** Adds a listener for the entry `tag` (of `sel`); returns its idempotent unsubscribe. */
  add(tag: string, sel: SecretSelector, listener: CacheUpdateListener): () => void {
    if (this.count >= this.max) throw new ResourceExhaustedError(`too many cache subscriptions (limit ${this.max})`);
    let s = this.byTag.get(tag);
    if (!s) this.byTag.set(tag, (s = { sel, listeners: new Set() }));
    if (s.listeners.has(listener)) return () => {};
    s.listeners.add(listener);
    this.count++;
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      this.count--;
      s.listeners.delete(listener);
      if (s.listeners.size === 0 && this.byTag.get(tag) === s) this.byTag.delete(tag);
    };
  }

  /** Calls every listener of `tag`; a throwing listener is logged and does not stop the others. */
  emit(tag: string, update: TagUpdate): void {
    const s = this.byTag.get(tag);
    if (!s) return;
    for (const l of [...s.listeners]) {
      try {
        l({ ...update, selector: s.sel } as CacheUpdate);
      } catch (err) {
        this.logger.error('cache: subscriber threw', { secretName: s.sel.name, error: err as Error });
      }
    }
  }

  /** Tags someone listens to. */
  tags(): string[] {
    return [...this.byTag.keys()];
  }

  clear(): void {
    this.byTag.clear();
    this.count = 0;
  }
}
