/**
 * The in-memory shared tier: same contract as Redis (sealed strings, fenced fills, NX locks with
 * leases, broadcast), for dev mode without Redis. Several stores in one process may share one
 * `MemoryBackend` (that is how tests model replicas without Redis). Expiry is lazy, so the backend
 * owns no timers; its size is bounded (oldest entries go first).
 */
import { randomUUID } from 'node:crypto';
import { entryKeys } from './keys';
import type { SharedRead, SharedTier, TierListener } from './sharedTier';

export class MemoryBackend {
  private readonly data = new Map<string, { v: string; expiresAtMs: number }>();
  readonly listeners = new Set<(message: string) => void>();
  /** The data epoch: this backend never loses its data as a whole (size-bound eviction is per key). */
  readonly epoch = randomUUID();

  constructor(
    private readonly maxEntries = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.data.size;
  }

  get(key: string): string | null {
    const e = this.data.get(key);
    if (!e) return null;
    if (this.now() >= e.expiresAtMs) {
      this.data.delete(key);
      return null;
    }
    return e.v;
  }

  set(key: string, v: string, ttlMs: number, nx = false): boolean {
    if (nx && this.get(key) !== null) return false;
    this.data.delete(key);
    this.data.set(key, { v, expiresAtMs: this.now() + ttlMs });
    while (this.data.size > this.maxEntries) this.data.delete(this.data.keys().next().value as string);
    return true;
  }

  del(key: string): boolean {
    return this.data.delete(key);
  }

  /** Every live key (tests scan it like they scan Redis). */
  keys(): string[] {
    return [...this.data.keys()].filter((k) => this.get(k) !== null);
  }

  publish(message: string): void {
    for (const l of this.listeners) queueMicrotask(() => l(message));
  }
}

export class MemoryTier implements SharedTier {
  readonly kind = 'memory' as const;
  private listener?: (message: string) => void;

  constructor(
    private readonly backend: MemoryBackend,
    private readonly prefix: string,
  ) {}

  async read(tag: string): Promise<SharedRead> {
    const k = entryKeys(this.prefix, tag);
    return { value: this.backend.get(k.value), negative: this.backend.get(k.negative) };
  }

  async fillValue(tag: string, token: string, sealed: string, ttlMs: number): Promise<boolean> {
    const k = entryKeys(this.prefix, tag);
    if (this.backend.get(k.lock) !== token) return false;
    this.backend.set(k.value, sealed, ttlMs);
    this.backend.del(k.negative);
    return true;
  }

  async fillNegative(tag: string, token: string, sealed: string, ttlMs: number): Promise<boolean> {
    const k = entryKeys(this.prefix, tag);
    if (this.backend.get(k.lock) !== token) return false;
    this.backend.set(k.negative, sealed, ttlMs);
    this.backend.del(k.value);
    return true;
  }

  async evict(tag: string): Promise<void> {
    const k = entryKeys(this.prefix, tag);
    this.backend.del(k.value);
    this.backend.del(k.negative);
  }

  async epoch(): Promise<string> {
    return this.backend.epoch;
  }

  async tryLock(tag: string, token: string, leaseMs: number): Promise<boolean> {
    return this.backend.set(entryKeys(this.prefix, tag).lock, token, leaseMs, true);
  }

  async extendLock(tag: string, token: string, leaseMs: number): Promise<boolean> {
    const key = entryKeys(this.prefix, tag).lock;
    if (this.backend.get(key) !== token) return false;
    return this.backend.set(key, token, leaseMs);
  }

  async unlock(tag: string, token: string): Promise<boolean> {
    const key = entryKeys(this.prefix, tag).lock;
    return this.backend.get(key) === token && this.backend.del(key);
  }

  async tryLease(tag: string, token: string, leaseMs: number): Promise<boolean> {
    return this.backend.set(entryKeys(this.prefix, tag).lease, token, leaseMs, true);
  }

  async releaseLease(tag: string, token: string): Promise<boolean> {
    const key = entryKeys(this.prefix, tag).lease;
    return this.backend.get(key) === token && this.backend.del(key);
  }

  async publish(message: string): Promise<void> {
    this.backend.publish(message);
  }

  /** In-process delivery is never interrupted, so `resync` is never called. */
  async subscribe(listener: TierListener): Promise<void> {
    if (this.listener) this.backend.listeners.delete(this.listener);
    const message = (m: string) => listener.message(m);
    this.listener = message;
    this.backend.listeners.add(message);
  }

  async close(): Promise<void> {
    if (this.listener) this.backend.listeners.delete(this.listener);
    this.listener = undefined;
  }
}
