/**
 * Just enough PKCS#12 (RFC 7292) to take the private key out of an AAP ClientKey, with Node's
 * crypto and no third-party parser: check the password-based MAC over the AuthenticatedSafe, then
 * find the key bag in the unencrypted `data` contents and hand the shrouded key
 * (EncryptedPrivateKeyInfo) to `createPrivateKey`, which decrypts it with OpenSSL's default
 * provider (pbeWithSHAAnd3-KeyTripleDES-CBC or PBES2/AES, both supported there).
 *
 * Why not `tls.createSecureContext({pfx})`: OpenSSL 3 refuses the whole file because the console
 * encrypts its *certificate* bag with RC2-40, a legacy-provider cipher. Signing needs only the key,
 * so the encrypted certificate bag is skipped, never decrypted.
 */
import { createHash, createHmac, createPrivateKey, timingSafeEqual, type KeyObject } from 'node:crypto';

/** Why a PFX cannot be opened. `wrong-password` is a failed MAC check; the rest is a damaged file. */
export class Pkcs12Error extends Error {
  constructor(readonly kind: 'wrong-password' | 'malformed' | 'no-key' | 'unsupported') {
    super(
      {
        'wrong-password': 'the password does not open it (PKCS#12 MAC check failed)',
        malformed: 'it is not a DER PKCS#12',
        'no-key': 'it holds no private key outside an encrypted bag',
        unsupported: 'its MAC algorithm is not supported',
      }[kind],
    );
  }
  override get name(): string {
    return 'Pkcs12Error';
  }
}

const OID = {
  data: '1.2.840.113549.1.7.1',
  keyBag: '1.2.840.113549.1.12.10.1.1',
  shroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
} as const;

/** MAC digests by OID: node hash name, output and block sizes in bytes (RFC 7292 B.2 u and v). */
const DIGESTS: Record<string, { hash: string; u: number; v: number }> = {
  '1.3.14.3.2.26': { hash: 'sha1', u: 20, v: 64 },
  '2.16.840.1.101.3.4.2.4': { hash: 'sha224', u: 28, v: 64 },
  '2.16.840.1.101.3.4.2.1': { hash: 'sha256', u: 32, v: 64 },
  '2.16.840.1.101.3.4.2.2': { hash: 'sha384', u: 48, v: 128 },
  '2.16.840.1.101.3.4.2.3': { hash: 'sha512', u: 64, v: 128 },
};

interface Tlv {
  tag: number;
  /** The value bytes. */
  value: Buffer;
  /** The whole encoding, header included. */
  raw: Buffer;
}

/** One DER TLV at `at` (definite lengths only: PKCS#12 files are DER). */
function readTlv(buf: Buffer, at = 0): Tlv {
  if (at + 2 > buf.length) throw new Pkcs12Error('malformed');
  const tag = buf[at]!;
  let len = buf[at + 1]!;
  let off = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || off + n > buf.length) throw new Pkcs12Error('malformed');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[off + i]!;
    off += n;
  }
  if (off + len > buf.length) throw new Pkcs12Error('malformed');
  return { tag, value: buf.subarray(off, off + len), raw: buf.subarray(at, off + len) };
}

/** The children of a constructed TLV. */
function children(t: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = 0; at < t.value.length; ) {
    const c = readTlv(t.value, at);
    out.push(c);
    at += c.raw.length;
  }
  return out;
}

function expect(t: Tlv | undefined, tag: number): Tlv {
  if (!t || t.tag !== tag) throw new Pkcs12Error('malformed');
  return t;
}

const SEQ = 0x30;
const OCTETS = 0x04;
const INT = 0x02;
const OIDTAG = 0x06;
const CTX0 = 0xa0;

function oid(t: Tlv | undefined): string {
  const v = expect(t, OIDTAG).value;
  const parts = [Math.floor(v[0]! / 40), v[0]! % 40];
  let n = 0;
  for (let i = 1; i < v.length; i++) {
    n = n * 128 + (v[i]! & 0x7f);
    if (!(v[i]! & 0x80)) {
      parts.push(n);
      n = 0;
    }
  }
  return parts.join('.');
}

function integer(t: Tlv | undefined): number {
  const v = expect(t, INT).value;
  if (v.length > 6) throw new Pkcs12Error('malformed');
  return v.reduce((n, b) => n * 256 + b, 0);
}

/** An OCTET STRING's bytes, joining the segments of a constructed (BER) one. */
function octets(t: Tlv | undefined): Buffer {
  if (t?.tag === OCTETS) return t.value;
  if (t?.tag === 0x24) return Buffer.concat(children(t).map(octets));
  throw new Pkcs12Error('malformed');
}

/** The password as PKCS#12 hashes it: UTF-16BE with a two-byte zero terminator (RFC 7292 B.1). */
function bmpPassword(password: string): Buffer {
  const le = Buffer.from(password + '\0', 'utf16le');
  return le.swap16();
}

/**
 * The PKCS#12 key derivation of RFC 7292 appendix B.2: `n` bytes of key material of purpose `id`
 * (3 = MAC key) from the BMP password, salt and iteration count.
 */
export function pkcs12Kdf(hash: string, u: number, v: number, id: number, password: Buffer, salt: Buffer, iterations: number, n: number): Buffer {
  const fill = (b: Buffer) => {
    if (b.length === 0) return b;
    const out = Buffer.alloc(v * Math.ceil(b.length / v));
    for (let i = 0; i < out.length; i++) out[i] = b[i % b.length]!;
    return out;
  };
  const D = Buffer.alloc(v, id);
  const I = Buffer.concat([fill(salt), fill(password)]);
  const out: Buffer[] = [];
  for (let got = 0; got < n; got += u) {
    let A = createHash(hash).update(D).update(I).digest();
    for (let r = 1; r < iterations; r++) A = createHash(hash).update(A).digest();
    out.push(A);
    const B = fill(A);
    // I_j = (I_j + B + 1) mod 2^(8v), for each v-byte block of I.
    for (let j = 0; j < I.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = I[j + k]! + B[k]! + carry;
        I[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return Buffer.concat(out).subarray(0, n);
}

function checkMac(macData: Tlv, authSafe: Buffer, password: string): void {
  const [digestInfo, saltTlv, iterTlv] = children(expect(macData, SEQ));
  const [algId, digest] = children(expect(digestInfo, SEQ));
  const d = DIGESTS[oid(children(expect(algId, SEQ))[0])];
  if (!d) throw new Pkcs12Error('unsupported');
  const iterations = iterTlv ? integer(iterTlv) : 1;
  if (iterations < 1 || iterations > 10_000_000) throw new Pkcs12Error('malformed');
  const key = pkcs12Kdf(d.hash, d.u, d.v, 3, bmpPassword(password), octets(saltTlv), iterations, d.u);
  const mac = createHmac(d.hash, key).update(authSafe).digest();
  const want = octets(digest);
  if (want.length !== mac.length || !timingSafeEqual(want, mac)) throw new Pkcs12Error('wrong-password');
}

/**
 * The first private key in a DER PFX, as a Node KeyObject. The MAC is checked first (a file
 * without one is refused: a ClientKey always has one, and without it a wrong password would only
 * show as a decryption failure). Keys inside an `encryptedData` content are not looked at.
 */
export function privateKeyFromPfx(der: Buffer, password: string): KeyObject {
  const [version, authSafeInfo, macData] = children(readTlv(der));
  if (integer(version) !== 3) throw new Pkcs12Error('malformed');
  const [type, content] = children(expect(authSafeInfo, SEQ));
  if (oid(type) !== OID.data) throw new Pkcs12Error('malformed');
  const authSafe = octets(children(expect(content, CTX0))[0]);
  if (!macData) throw new Pkcs12Error('malformed');
  checkMac(macData, authSafe, password);

  for (const info of children(readTlv(authSafe))) {
    const [ctype, cval] = children(expect(info, SEQ));
    if (oid(ctype) !== OID.data) continue; // encryptedData: the RC2-40 certificate bag
    const safeContents = readTlv(octets(children(expect(cval, CTX0))[0]));
    for (const bag of children(expect(safeContents, SEQ))) {
      const [bagId, bagValue] = children(expect(bag, SEQ));
      const id = oid(bagId);
      if (id !== OID.keyBag && id !== OID.shroudedKeyBag) continue;
      const inner = children(expect(bagValue, CTX0))[0]!.raw;
      try {
        return id === OID.keyBag
          ? createPrivateKey({ key: inner, format: 'der', type: 'pkcs8' })
          : createPrivateKey({ key: inner, format: 'der', type: 'pkcs8', passphrase: password });
      } catch {
        throw new Pkcs12Error('malformed');
      }
    }
  }
  throw new Pkcs12Error('no-key');
}
