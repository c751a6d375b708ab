/**
 * The cache seal key ring. Config holds `id:base64,id2:base64,...` (first = primary): new values
 * are sealed with the primary, any key in the ring opens, so the seal key rotates without a flush:
 *   1. add the new key second on every replica;  2. move it first;  3. drop the old one after maxStaleMs.
 * Raw key material is never used directly: HKDF derives one AES key per ring entry and one HMAC key
 * for Redis key names, so the same bytes never serve two purposes.
 */
import { hkdfSync, randomBytes } from 'node:crypto';
import { ConfigError } from '../errors';

const SEAL_INFO = 'secrets-gateway/cache/seal/v1';
const NAMES_INFO = 'secrets-gateway/cache/names/v1';
const CHANNEL_INFO = 'secrets-gateway/cluster/channel-mac/v1';
const ID_RE = /^[A-Za-z0-9_-]{1,32}$/;

export interface SealKey {
  id: string;
  /** 32 bytes, derived for AES-256-GCM. */
  key: Buffer;
}

export interface KeyRing {
  primary: SealKey;
  /** Any key of the ring by id, or undefined. */
  get(id: string): SealKey | undefined;
  ids(): string[];
  /** HMAC key for Redis key names (see keys.ts); derived from the `namingKeyId` entry. */
  namingKey: Buffer;
  /**
   * HMAC key for coordination messages between replicas (cluster/messageAuth.ts). Derived from the
   * same pinned entry as `namingKey` (its own label), so replicas mid-rotation still agree on it.
   */
  channelKey: Buffer;
}

export interface KeyRingOptions {
  /**
   * Which ring entry derives the key-name HMAC key. Names change when it changes (one refill per
   * secret), so pin it to a long-lived id across a seal-key rotation. @default the primary's id
   */
  namingKeyId?: string;
  /** The setting name used in error messages. @default 'SECRETS_GATEWAY_CACHE_SEAL_KEYS' */
  setting?: string;
}

function derive(material: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', material, Buffer.alloc(0), info, 32));
}

/** Builds a ring from raw 32-byte materials, first = primary. */
export function keyRingFrom(entries: { id: string; material: Buffer }[], opts: KeyRingOptions = {}): KeyRing {
  const setting = opts.setting ?? 'SECRETS_GATEWAY_CACHE_SEAL_KEYS';
  if (entries.length === 0) throw new ConfigError(setting, 'needs at least one key, as id:base64 (32 bytes)');
  const byId = new Map<string, SealKey>();
  for (const [i, e] of entries.entries()) {
    if (!ID_RE.test(e.id)) throw new ConfigError(setting, `key #${i + 1}: id must be 1–32 characters of A-Z a-z 0-9 _ -`);
    if (e.material.length !== 32) throw new ConfigError(setting, `key "${e.id}": must be 32 bytes, got ${e.material.length}`);
    if (byId.has(e.id)) throw new ConfigError(setting, `key id "${e.id}" appears twice`);
    byId.set(e.id, { id: e.id, key: derive(e.material, SEAL_INFO) });
  }
  const namingId = opts.namingKeyId ?? entries[0].id;
  const naming = entries.find((e) => e.id === namingId);
  if (!naming) throw new ConfigError(setting, `namingKeyId "${namingId}" is not in the ring`);
  return {
    primary: byId.get(entries[0].id)!,
    get: (id) => byId.get(id),
    ids: () => [...byId.keys()],
    namingKey: derive(naming.material, NAMES_INFO),
    channelKey: derive(naming.material, CHANNEL_INFO),
  };
}

/**
 * Parses `id:base64[,id:base64...]`, first = primary. Errors name the setting and the key id (or its
 * position), never the material.
 */
export function parseKeyRing(spec: string, opts: KeyRingOptions = {}): KeyRing {
  const setting = opts.setting ?? 'SECRETS_GATEWAY_CACHE_SEAL_KEYS';
  const parts = spec.split(',').map((p) => p.trim());
  if (spec.trim() === '' || parts.some((p) => p === '')) {
    throw new ConfigError(setting, 'must be a comma-separated list of id:base64 (32 bytes each), first = primary');
  }
  const entries = parts.map((p, i) => {
    const colon = p.indexOf(':');
    if (colon <= 0) throw new ConfigError(setting, `key #${i + 1}: expected id:base64`);
    const id = p.slice(0, colon);
    const b64 = p.slice(colon + 1);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) {
      throw new ConfigError(setting, `key "${id}": not valid base64`);
    }
    return { id, material: Buffer.from(b64, 'base64') };
  });
  return keyRingFrom(entries, opts);
}

/** A fresh random one-key ring, kept in memory only: dev mode without configured keys. */
export function generateKeyRing(id = 'dev'): KeyRing {
  return keyRingFrom([{ id, material: randomBytes(32) }]);
}

/** A new random key in the config format, for operators (`id:base64`). */
export function newKeySpec(id: string): string {
  if (!ID_RE.test(id)) throw new ConfigError('id', 'must be 1–32 characters of A-Z a-z 0-9 _ -');
  return `${id}:${randomBytes(32).toString('base64')}`;
}
