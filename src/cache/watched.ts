/**
 * Keys someone (the watch module) asked the cache to keep checked with KMS on its own cadence,
 * through `SecretStore.schedule`. The cache's refresher is then the one scheduler of such a key: its
 * due time is the earlier of the entry's refresh-ahead time and the plan's next check after the
 * entry's `checkedAtMs`, whichever mechanism asks, under the same per-refresh election.
 *
 * Plans are ref-counted per tag. A plan's next check is computed once per confirmation (a plan
 * with jitter gives one due time per check, not a new one at every look), so all looks at one
 * entry agree on when it is due.
 */

/** When a watched key is next due, and who hears of each check. */
export interface CheckPlan {
  /** The next check after a confirmation at `checkedAtMs` (epoch ms), given the secret's NextRotationDate. */
  nextCheckAtMs(checkedAtMs: number, nextRotationTimeMs: number | undefined): number;
  /** Each KMS check this replica made for the key on the schedule: no argument on success. */
  onCheck?(err?: unknown): void;
}

/** What the due time depends on: the cache entry as it stands. */
export interface Checked {
  checkedAtMs: number;
  refreshAtMs: number;
  secret: { nextRotationTimeMs?: number };
}

interface Watched {
  plans: CheckPlan[];
  /** The confirmation `dueAtMs` was computed from. */
  basisMs?: number;
  dueAtMs: number;
}

export class WatchedKeys {
  private readonly keys = new Map<string, Watched>();

  get size(): number {
    return this.keys.size;
  }

  has(tag: string): boolean {
    return this.keys.has(tag);
  }

  /** Adds `plan` for `tag`; the returned function removes it (idempotent) and says whether none is left. */
  add(tag: string, plan: CheckPlan): () => boolean {
    const w = this.keys.get(tag) ?? { plans: [], dueAtMs: Infinity };
    w.plans.push(plan);
    w.basisMs = undefined; // a new plan may be due sooner
    this.keys.set(tag, w);
    let removed = false;
    return () => {
      if (removed) return false;
      removed = true;
      w.plans = w.plans.filter((p) => p !== plan);
      w.basisMs = undefined;
      if (w.plans.length > 0 || this.keys.get(tag) !== w) return false;
      this.keys.delete(tag);
      return true;
    };
  }

  /**
   * When the entry of `tag` is due: its refresh-ahead time, or the plans' next check if earlier.
   * Without an entry (nothing known yet), the plans' next check counted from `now`.
   */
  dueOf(tag: string, e: Checked | undefined, now: number): number {
    const w = this.keys.get(tag);
    if (!w) return e?.refreshAtMs ?? Infinity;
    const basis = e?.checkedAtMs ?? now;
    if (w.basisMs !== basis) {
      w.basisMs = basis;
      w.dueAtMs = Math.min(...w.plans.map((p) => p.nextCheckAtMs(basis, e?.secret.nextRotationTimeMs)));
    }
    return Math.min(w.dueAtMs, e?.refreshAtMs ?? Infinity);
  }

  /** Tells the plans of `tag` that this replica checked it with KMS (`err` when the check failed). */
  checked(tag: string, err?: unknown): void {
    for (const p of this.keys.get(tag)?.plans ?? []) p.onCheck?.(err);
  }

  clear(): void {
    this.keys.clear();
  }
}
