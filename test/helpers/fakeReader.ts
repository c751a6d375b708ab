/**
 * A hand-written fake of the cache as `SecretReader` sees it (the real cache is not ready yet).
 *
 * It models one cluster-shared tier over a programmable "KMS":
 *   - `set()` / `rotate()` change what KMS holds; readers see it only after a KMS round trip;
 *   - `maxStalenessMs: 0` always goes to KMS; other reads answer from the shared tier when it is
 *     fresh enough (source SHARED_CACHE) and go to KMS on a miss;
 *   - `kmsError` makes every KMS round trip fail (a KMS outage: the shared tier still answers);
 *   - `remove(name, err)` makes every read of that secret throw `err` (deleted / revoked, fail closed);
 *   - `hang` makes reads wait for their signal (deadline and cancel tests).
 * `withL1()` adds a per-replica in-process tier in front, to reproduce a replica whose L1 still
 * holds the previous version. Every call is recorded.
 */
import { SecretNotFoundError } from '../../src/errors';
import { ACS_CURRENT, type SecretSelector, type SecretVersion } from '../../src/model';
import type { ReadOptions, ReadResult, SecretReader } from '../../src/watch/reader';

export interface ReaderCall {
  name: string;
  stage?: string;
  versionId?: string;
  maxStalenessMs?: number;
  signal?: AbortSignal;
  /** When the call was made (epoch ms). */
  atMs: number;
}

const keyOf = (sel: SecretSelector) => `${sel.regionId ?? ''}|${sel.name}|${sel.versionId ?? sel.versionStage ?? ACS_CURRENT}`;

export function version(name: string, versionId: string, extra: Partial<SecretVersion> = {}): SecretVersion {
  return {
    name,
    versionId,
    versionStages: [ACS_CURRENT],
    value: { kind: 'string', text: `value-of-${versionId}` },
    secretType: 'Generic',
    automaticRotation: false,
    regionId: 'cn-hangzhou',
    createTimeMs: 1_700_000_000_000,
    ...extra,
  };
}

export class FakeReader implements SecretReader {
  readonly calls: ReaderCall[] = [];
  kmsError: Error | undefined;
  hang = false;
  private readonly kms = new Map<string, SecretVersion | Error>();
  private readonly shared = new Map<string, { secret: SecretVersion; checkedAtMs: number }>();

  /** What KMS holds for `name` (stage ACSCurrent unless given). */
  set(secret: SecretVersion, stage = ACS_CURRENT): void {
    this.kms.set(keyOf({ name: secret.name, versionStage: stage }), secret);
  }

  /** KMS rotates `name`: a new version with a default value. */
  rotate(name: string, versionId: string, extra: Partial<SecretVersion> = {}): void {
    this.set(version(name, versionId, extra));
  }

  /** Every read of `name` now throws `err` (SecretNotFoundError, AccessDeniedError, …). */
  remove(name: string, err: Error, stage = ACS_CURRENT): void {
    this.kms.set(keyOf({ name, versionStage: stage }), err);
    this.shared.delete(keyOf({ name, versionStage: stage }));
  }

  /** Reads that forced a KMS round trip (`maxStalenessMs: 0`), for `name` when given. */
  forceCalls(name?: string): number {
    return this.forceCallList(name).length;
  }

  forceCallList(name?: string): ReaderCall[] {
    return this.calls.filter((c) => c.maxStalenessMs === 0 && (name === undefined || c.name === name));
  }

  async get(sel: SecretSelector, opts: ReadOptions): Promise<ReadResult> {
    this.calls.push({ name: sel.name, stage: sel.versionStage, versionId: sel.versionId, maxStalenessMs: opts.maxStalenessMs, signal: opts.signal, atMs: Date.now() });
    if (this.hang) await waitForAbort(opts.signal);
    opts.signal?.throwIfAborted();
    const key = keyOf(sel);
    const truth = this.kms.get(key);
    if (truth instanceof Error) throw truth;
    const hit = this.shared.get(key);
    const now = Date.now();
    if (hit && opts.maxStalenessMs !== 0 && (opts.maxStalenessMs === undefined || now - hit.checkedAtMs <= opts.maxStalenessMs)) {
      return { secret: hit.secret, freshness: { source: 'SHARED_CACHE', checkedAtMs: hit.checkedAtMs } };
    }
    if (this.kmsError) throw this.kmsError;
    if (!truth) throw new SecretNotFoundError(`secret ${sel.name} not found`);
    this.shared.set(key, { secret: truth, checkedAtMs: now });
    return { secret: truth, freshness: { source: 'KMS', checkedAtMs: now } };
  }

  /** A reader with its own in-process tier (entries live `ttlMs`) in front of this one. */
  withL1(ttlMs: number): SecretReader {
    const l1 = new Map<string, { r: ReadResult; atMs: number }>();
    return {
      get: async (sel, opts) => {
        const hit = l1.get(keyOf(sel));
        const now = Date.now();
        const bound = opts.maxStalenessMs ?? Infinity;
        if (hit && opts.maxStalenessMs !== 0 && now - hit.atMs <= ttlMs && now - hit.r.freshness.checkedAtMs <= bound) {
          this.calls.push({ name: sel.name, stage: sel.versionStage, maxStalenessMs: opts.maxStalenessMs, signal: opts.signal, atMs: now });
          return { secret: hit.r.secret, freshness: { source: 'LOCAL_CACHE', checkedAtMs: hit.r.freshness.checkedAtMs } };
        }
        const r = await this.get(sel, opts);
        l1.set(keyOf(sel), { r, atMs: now });
        return r;
      },
    };
  }
}

function waitForAbort(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((_, reject) => {
    if (!signal) return; // hangs forever: a reader without a signal is the bug under test
    if (signal.aborted) return reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}
