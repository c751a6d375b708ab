/**
 * Sealed coordination messages. Redis is trusted for availability, never for the content of what
 * replicas tell each other (architecture.md, trust boundaries): every pub/sub message is
 * encrypted and authenticated with AES-256-GCM under a key derived from the seal key ring (its
 * own HKDF label), with its timestamp in the AAD. A message that does not open, or whose timestamp
 * is outside the replay window, is dropped and counted; the gateway never acts on it. Encrypting
 * (not only signing) keeps version ids and tags' activity out of sight of a Redis reader.
 *
 * Wire form: `a2|<ms>|<nonce base64url>|<ciphertext+tag base64url>`, AAD `a2|<channel>|<ms>`.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Logger } from '../telemetry/logger';

export type RejectReason = 'format' | 'mac' | 'expired' | 'future';

export interface MessageAuthOptions {
  /** 32 bytes (KeyRing.channelKey). */
  key: Buffer;
  /** Which channel: part of the AAD, so a message cannot be replayed onto another channel. @default '' */
  channel?: string;
  /** A message older than this is a replay. @default 30000 */
  maxAgeMs?: number;
  /** Clock skew tolerated between replicas. @default 5000 */
  maxSkewMs?: number;
  now?: () => number;
  logger?: Logger;
  /** Called for each dropped message (metrics). */
  onReject?: (reason: RejectReason) => void;
}

const VERSION = 'a2';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const WARN_EVERY_MS = 10_000;

export class MessageAuth {
  private readonly maxAgeMs: number;
  private readonly maxSkewMs: number;
  private readonly now: () => number;
  private lastWarnMs = -Infinity;
  private suppressed = 0;
  /** Messages dropped since start, by reason (tests, metrics). */
  readonly rejected: Record<RejectReason, number> = { format: 0, mac: 0, expired: 0, future: 0 };

  constructor(private readonly o: MessageAuthOptions) {
    if (o.key.length < 32) throw new RangeError('MessageAuth: key must be 32 bytes');
    this.maxAgeMs = o.maxAgeMs ?? 30_000;
    this.maxSkewMs = o.maxSkewMs ?? 5_000;
    this.now = o.now ?? Date.now;
  }

  /** The largest timestamp a peer may put in a message now: for clamping times it reports. */
  get horizonMs(): number {
    return this.now() + this.maxSkewMs;
  }

  seal(body: string): string {
    const ts = String(this.now());
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.o.key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(`${VERSION}|${this.o.channel ?? ''}|${ts}`));
    const ct = Buffer.concat([cipher.update(body, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${VERSION}|${ts}|${nonce.toString('base64url')}|${ct.toString('base64url')}`;
  }

  /** The body of an authentic, recent message; null (counted, warned at most every 10 s) otherwise. */
  open(message: string): string | null {
    const a = message.indexOf('|');
    const b = message.indexOf('|', a + 1);
    const c = message.indexOf('|', b + 1);
    if (a < 0 || b < 0 || c < 0 || message.slice(0, a) !== VERSION) return this.reject('format');
    const ts = message.slice(a + 1, b);
    const nonce = Buffer.from(message.slice(b + 1, c), 'base64url');
    const ct = Buffer.from(message.slice(c + 1), 'base64url');
    if (!/^\d{1,16}$/.test(ts) || nonce.length !== NONCE_BYTES || ct.length < TAG_BYTES) return this.reject('format');
    let body: string;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.o.key, nonce, { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(`${VERSION}|${this.o.channel ?? ''}|${ts}`));
      decipher.setAuthTag(ct.subarray(ct.length - TAG_BYTES));
      body = Buffer.concat([decipher.update(ct.subarray(0, ct.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      return this.reject('mac');
    }
    const at = Number(ts);
    const now = this.now();
    if (at < now - this.maxAgeMs) return this.reject('expired');
    if (at > now + this.maxSkewMs) return this.reject('future');
    return body;
  }

  private reject(reason: RejectReason): null {
    this.rejected[reason]++;
    this.o.onReject?.(reason);
    const now = this.now();
    if (now - this.lastWarnMs >= WARN_EVERY_MS) {
      this.o.logger?.warn('cluster: dropped a coordination message that is not authentic or not recent (someone with Redis access, or a replica with other seal keys)', { reason, suppressed: this.suppressed });
      this.lastWarnMs = now;
      this.suppressed = 0;
    } else this.suppressed++;
    return null;
  }
}
