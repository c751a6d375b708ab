/**
 * AES-256-GCM sealing of everything the cache writes to the shared tier. The envelope is one
 * ASCII string:
 *
 *   sg2.<kind>.<keyId>.<nonce>.<ciphertext+tag>     (base64url fields)
 *
 * `kind` is `v` (value) or `n` (negative entry). The AAD binds the format, kind, key id and the
 * canonical cache key (selectorKey), so an envelope moved to another key, relabelled with another
 * kind, or re-tagged with another key id fails to open. The version id and region are inside the
 * ciphertext: a Redis reader learns neither. Envelopes of the previous format (`sg1`, version and
 * region in the clear and in the AAD) still open, so a rolling upgrade costs no refill. Anything
 * that fails to open is a cache miss, logged without content — never a crash.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Logger } from '../telemetry/logger';
import type { KeyRing } from './keyRing';

const FORMAT = 'sg2';
const LEGACY = 'sg1';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export type SealKind = 'v' | 'n';

export interface SealContext {
  kind: SealKind;
  /** selectorKey() of the entry. */
  cacheKey: string;
}

export interface Opened {
  plaintext: Buffer;
  keyId: string;
  /** Only in a legacy `sg1` envelope: the version and region it was bound to, in the clear. */
  legacy?: { versionId: string; regionId: string };
}

const b64u = (b: Buffer | string) => Buffer.from(b).toString('base64url');
const unb64u = (s: string) => Buffer.from(s, 'base64url');

function aad(keyId: string, ctx: SealContext): Buffer {
  return Buffer.from(JSON.stringify([FORMAT, ctx.kind, keyId, ctx.cacheKey]), 'utf8');
}

function legacyAad(keyId: string, ctx: SealContext, versionId: string, regionId: string): Buffer {
  return Buffer.from(JSON.stringify([LEGACY, ctx.kind, keyId, ctx.cacheKey, versionId, regionId]), 'utf8');
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
    return [FORMAT, ctx.kind, id, b64u(nonce), b64u(ct)].join('.');
  }

  /**
   * Opens an envelope written for `expect.cacheKey` and `expect.kind`. Returns null (and logs why,
   * without content) for anything malformed, sealed under an unknown key id, or failing the tag check.
   */
  open(envelope: string, expect: { kind: SealKind; cacheKey: string }): Opened | null {
    const parts = envelope.split('.');
    const legacy = parts.length === 7 && parts[0] === LEGACY;
    if (!legacy && (parts.length !== 5 || parts[0] !== FORMAT)) return this.miss('malformed envelope', expect);
    const [, kind, keyId, nonceB] = parts as [string, string, string, string];
    const ctB = parts[parts.length - 1]!;
    if (kind !== expect.kind) return this.miss('envelope kind mismatch', expect);
    const k = this.ring.get(keyId);
    if (!k) return this.miss('unknown seal key id', expect, keyId);
    const nonce = unb64u(nonceB);
    const ct = unb64u(ctB);
    if (nonce.length !== NONCE_BYTES || ct.length < TAG_BYTES) return this.miss('malformed envelope', expect, keyId);
    const bound = legacy ? { versionId: unb64u(parts[4]!).toString('utf8'), regionId: unb64u(parts[5]!).toString('utf8') } : undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', k.key, nonce, { authTagLength: TAG_BYTES });
      decipher.setAAD(bound ? legacyAad(keyId, expect, bound.versionId, bound.regionId) : aad(keyId, expect));
      decipher.setAuthTag(ct.subarray(ct.length - TAG_BYTES));
      const plaintext = Buffer.concat([decipher.update(ct.subarray(0, ct.length - TAG_BYTES)), decipher.final()]);
      return { plaintext, keyId, ...(bound ? { legacy: bound } : {}) };
    } catch {
      return this.miss('envelope failed authentication', expect, keyId);
    }
  }

  private miss(reason: string, expect: { kind: SealKind; cacheKey: string }, keyId?: string): null {
    this.logger.warn('cache: sealed entry ignored', { reason, kind: expect.kind, cacheKey: expect.cacheKey, keyId });
    return null;
  }
}
