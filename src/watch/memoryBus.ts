/**
 * The in-memory WatchBus: leases and interest inside one process. It is what a single
 * replica without Redis (dev mode) runs on. Several hubs may share one `MemoryBroker` to stand for
 * several replicas in one process; the semantics (expiring leases and interest) match the Redis bus.
 */
import { createHash } from 'node:crypto';
import type { WatchBus } from './bus';

/** The shared state behind one or more in-memory buses. */
export class MemoryBroker {
  readonly leases = new Map<string, { token: string; expiresAtMs: number }>();
  readonly interest = new Map<string, Map<string, number>>();
  constructor(readonly now: () => number = Date.now) {}

  /** Live members of `tag`, dropping expired ones (and the tag when none is left). */
  members(tag: string): Map<string, number> | undefined {
    const m = this.interest.get(tag);
    if (!m) return undefined;
    const now = this.now();
    for (const [id, exp] of m) if (exp <= now) m.delete(id);
    if (m.size === 0) {
      this.interest.delete(tag);
      return undefined;
    }
    return m;
  }
}

/** A bus over `broker` (a private broker when omitted). */
export function createMemoryBus(broker: MemoryBroker = new MemoryBroker()): WatchBus {
  const liveLease = (tag: string) => {
    const l = broker.leases.get(tag);
    if (l && l.expiresAtMs <= broker.now()) {
      broker.leases.delete(tag);
      return undefined;
    }
    return l;
  };
  return {
    // A plain hash is enough in-process: nothing is stored outside this process's memory.
    tagOf: (key) => createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 32),
    acquireLease: async (tag, token, ttlMs) => {
      if (liveLease(tag)) return false;
      broker.leases.set(tag, { token, expiresAtMs: broker.now() + ttlMs });
      return true;
    },
    extendLease: async (tag, token, ttlMs) => {
      const l = liveLease(tag);
      if (l?.token !== token) return false;
      l.expiresAtMs = broker.now() + ttlMs;
      return true;
    },
    releaseLease: async (tag, token) => {
      if (liveLease(tag)?.token === token) broker.leases.delete(tag);
    },
    joinInterest: async (tag, replicaId, ttlMs) => {
      const m = broker.interest.get(tag) ?? new Map<string, number>();
      m.set(replicaId, broker.now() + ttlMs);
      broker.interest.set(tag, m);
    },
    leaveInterest: async (tag, replicaId) => {
      broker.members(tag)?.delete(replicaId);
      broker.members(tag);
    },
    interestCount: async (tag) => broker.members(tag)?.size ?? 0,
    watchedCount: async () => [...broker.interest.keys()].filter((t) => broker.members(t)).length,
    close: async () => undefined,
  };
}
