/**
 * Seals and opens cache entries for the shared tier. A value envelope's AAD binds its cache key
 * (seal.ts), and the version and region are inside it; a legacy envelope's decoded secret must
 * agree with the version and region it was bound to in the clear, or the entry is a miss.
 */
import type { Logger } from '../telemetry/logger';
import { decodeEntry, decodeNegative, encodeEntry, encodeNegative, type CacheEntry, type NegativeEntry } from './entry';
import type { Sealer } from './seal';

export class EntryCodec {
  constructor(
    private readonly sealer: Sealer,
    private readonly logger: Logger,
  ) {}

  sealValue(cacheKey: string, entry: CacheEntry): string {
    return this.sealer.seal(encodeEntry(entry), { kind: 'v', cacheKey });
  }

  openValue(cacheKey: string, sealed: string): CacheEntry | null {
    const opened = this.sealer.open(sealed, { kind: 'v', cacheKey });
    if (!opened) return null;
    const entry = decodeEntry(opened.plaintext);
    const bound = opened.legacy;
    if (!entry || (bound && (entry.secret.versionId !== bound.versionId || entry.secret.regionId !== bound.regionId))) {
      this.logger.warn('cache: sealed entry ignored', { reason: 'content does not match its envelope', cacheKey });
      return null;
    }
    return entry;
  }

  sealNegative(cacheKey: string, negative: NegativeEntry): string {
    return this.sealer.seal(encodeNegative(negative), { kind: 'n', cacheKey });
  }

  openNegative(cacheKey: string, sealed: string): NegativeEntry | null {
    const opened = this.sealer.open(sealed, { kind: 'n', cacheKey });
    return opened ? decodeNegative(opened.plaintext) : null;
  }
}
