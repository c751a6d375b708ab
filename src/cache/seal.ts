/**
 * AES-256-GCM sealing of everything the cache writes to the shared tier. The envelope is one
 * ASCII string:
 *
 *   sg1.<kind>.<keyId>.<nonce>.<versionId>.<regionId>.<ciphertext+tag>     (base64url fields)
 *
 * `kind` is `v` (value) or `n` (negative entry). The AAD binds the format, kind, key id, the
 * canonical cache key (selectorKey), the version id and the region, so an envelope moved to another
 * key, relabelled with another version/region or kind, or re-tagged with another key id fails to
 * open. Version id and region travel in the clear because the reader needs them to build the AAD
 * (they are identifiers, not secret material). Anything that fails to open is a cache miss, logged
 * without content — never a crash.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Logger } from '../telemetry/logger';
import type { KeyRing } from './keyRing';

const FORMAT = 'sg1';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export type SealKind = 'v' | 'n';

export interface SealContext {
  kind: SealKind;
  /** selectorKey() of the entry. */
  cacheKey: string;
  versionId: string;
  regionId: string;
}

export interface Opened {
  plaintext: Buffer;
  versionId: string;
  regionId: string;
  keyId: string;
}

const b64u = (b: Buffer | string) => Buffer.from(b).toString('base64url');
const unb64u = (s: string) => Buffer.from(s, 'base64url');

function aad(keyId: string, ctx: SealContext): Buffer {
  return Buffer.from(JSON.stringify([FORMAT, ctx.kind, keyId, ctx.cacheKey, ctx.versionId, ctx.regionId]), 'utf8');
}

export class Sealer {
  constructor(
    private readonly ring: KeyRing,
    private readonly logger: Logger,
  ) {}

  /** Seals with the ring's primary key and a fresh random 96-bit nonce. */
  seal(plaintext: Buffer, ctx: SealContext): string {
    const { id, key } = this.ring.primary;
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad(id, ctx));
    const ct = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return [FORMAT, ctx.kind, id, b64u(nonce), b64u(ctx.versionId), b64u(ctx.regionId), b64u(ct)].join('.');
  }

  /**
   * Opens an envelope written for `expect.cacheKey` and `expect.kind`. Returns null (and logs why,
   * without content) for anything malformed, sealed under an unknown key id, or failing the tag check.
   */
  open(envelope: string, expect: { kind: SealKind; cacheKey: string }): Opened | null {
    const parts = envelope.split('.');
    if (parts.length !== 7 || parts[0] !== FORMAT) return this.miss('malformed envelope', expect);
    const [, kind, keyId, nonceB, versionB, regionB, ctB] = parts;
    if (kind !== expect.kind) return this.miss('envelope kind mismatch', expect);
    const k = this.ring.get(keyId);
    if (!k) return this.miss('unknown seal key id', expect, keyId);
    const nonce = unb64u(nonceB);
    const ct = unb64u(ctB);
    if (nonce.length !== NONCE_BYTES || ct.length < TAG_BYTES) return this.miss('malformed envelope', expect, keyId);
    const versionId = unb64u(versionB).toString('utf8');
    const regionId = unb64u(regionB).toString('utf8');
    try {
      const decipher = createDecipheriv('aes-256-gcm', k.key, nonce, { authTagLength: TAG_BYTES });
      decipher.setAAD(aad(keyId, { kind: expect.kind, cacheKey: expect.cacheKey, versionId, regionId }));
      decipher.setAuthTag(ct.subarray(ct.length - TAG_BYTES));
      const plaintext = Buffer.concat([decipher.update(ct.subarray(0, ct.length - TAG_BYTES)), decipher.final()]);
      return { plaintext, versionId, regionId, keyId };
    } catch {
      return this.miss('envelope failed authentication', expect, keyId);
    }
  }

  private miss(reason: string, expect: { kind: SealKind; cacheKey: string }, keyId?: string): null {
    this.logger.warn('cache: sealed entry ignored', { reason, kind: expect.kind, cacheKey: expect.cacheKey, keyId });
    return null;
  }
}
