/**
 * Per-replica high-water marks: for each entry tag, the newest version this replica has seen as
 * current (and when), and the last time it saw the entry evicted. Redis is trusted for
 * availability, not freshness: AES-GCM proves an envelope is ours, not that it is the newest, so
 * a Redis writer could put back the envelope of a rotated-out version. An L2 entry older than the
 * mark is ignored (the read goes on to KMS), and never answered as STALE either.
 *
 * Bounded (LRU): a key whose mark was dropped, or a replica that just started, has no history and
 * accepts what L2 holds; an old envelope is still bounded by its own sealed expiry.
 */
import { LRUCache } from 'lru-cache';

interface Mark {
  versionId: string;
  checkedAtMs: number;
  /** KMS's CreateTime of that version, when known: orders versions by KMS's clock, not a replica's. */
  createTimeMs?: number;
  evictedAtMs: number;
}

export class HighWaterMarks {
  private readonly marks: LRUCache<string, Mark>;

  constructor(
    max: number,
    /** Tolerance for clock differences between the replicas that stamped the times. */
    private readonly skewMs: number,
  ) {
    this.marks = new LRUCache({ max });
  }

  /** `versionId` was current at `checkedAtMs` (an own fetch, an admitted L2 read, an authenticated event). */
  saw(tag: string, versionId: string, checkedAtMs: number, createTimeMs?: number): void {
    const m = this.marks.get(tag);
    if (!m) this.marks.set(tag, { versionId, checkedAtMs, createTimeMs, evictedAtMs: -Infinity });
    else if (checkedAtMs >= m.checkedAtMs || (versionId !== m.versionId && newer(createTimeMs, m.createTimeMs) && checkedAtMs + this.skewMs >= m.checkedAtMs)) {
      m.versionId = versionId;
      m.checkedAtMs = Math.max(m.checkedAtMs, checkedAtMs);
      m.createTimeMs = createTimeMs;
    }
  }

  /**
   * The entry was evicted (NotFound / AccessDenied) at `atMs`. Only keys with a mark are noted: a
   * key this replica never saw has nothing to roll back to, and NotFound reads of random names
   * must not push real marks out of the LRU.
   */
  evicted(tag: string, atMs: number): void {
    const m = this.marks.get(tag);
    if (m) m.evictedAtMs = Math.max(m.evictedAtMs, atMs);
  }

  /**
   * Whether an entry may be used: not from before the last eviction, and not another version
   * older than the newest seen. Another version is admitted when KMS created it after the marked
   * one (a rotation, judged by KMS's clock), or when it was checked after the mark (KMS itself
   * moved the stage back). The same version, checked earlier, is fine: only its freshness is
   * older, and max_staleness judges that.
   */
  admits(tag: string, versionId: string, checkedAtMs: number, createTimeMs?: number): boolean {
    const m = this.marks.get(tag);
    if (!m) return true;
    if (checkedAtMs + this.skewMs < m.evictedAtMs) return false;
    // A newer CreateTime wins only for a check about as recent as the mark: otherwise it is the
    // envelope of a version KMS has since moved the stage away from (a revert), replayed.
    return versionId === m.versionId || (newer(createTimeMs, m.createTimeMs) && checkedAtMs + this.skewMs >= m.checkedAtMs) || checkedAtMs > m.checkedAtMs;
  }

  /** A NotFound checked before the newest version this replica saw current is not news: ignored. */
  admitsNegative(tag: string, checkedAtMs: number): boolean {
    const m = this.marks.get(tag);
    return !m || checkedAtMs + this.skewMs >= m.checkedAtMs;
  }

  get size(): number {
    return this.marks.size;
  }
}

const newer = (a: number | undefined, b: number | undefined): boolean => a !== undefined && b !== undefined && a > b;
