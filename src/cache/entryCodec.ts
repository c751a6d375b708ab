/**
 * Seals and opens cache entries for the shared tier. A value envelope's AAD binds its cache key,
 * version id and region (seal.ts); after opening, the decoded secret must agree with the version
 * and region the envelope was bound to, or the entry is a miss.
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
    const { versionId, regionId } = entry.secret;
    return this.sealer.seal(encodeEntry(entry), { kind: 'v', cacheKey, versionId, regionId });
  }

  openValue(cacheKey: string, sealed: string): CacheEntry | null {
    const opened = this.sealer.open(sealed, { kind: 'v', cacheKey });
    if (!opened) return null;
    const entry = decodeEntry(opened.plaintext);
    if (!entry || entry.secret.versionId !== opened.versionId || entry.secret.regionId !== opened.regionId) {
      this.logger.warn('cache: sealed entry ignored', { reason: 'content does not match its envelope', cacheKey });
      return null;
    }
    return entry;
  }

  sealNegative(cacheKey: string, negative: NegativeEntry): string {
    return this.sealer.seal(encodeNegative(negative), { kind: 'n', cacheKey, versionId: '', regionId: '' });
  }

  openNegative(cacheKey: string, sealed: string): NegativeEntry | null {
    const opened = this.sealer.open(sealed, { kind: 'n', cacheKey });
    return opened ? decodeNegative(opened.plaintext) : null;
  }
}
