/**
 * The two Alibaba Cloud POP signature schemes, computed exactly as the SDKs do
 * (`@alicloud/openapi-util` getRPCSignature / getAuthorization; see docs/kms-wire.md §1.2–1.3).
 * Pure functions: the server uses them to verify, tests use them to forge and tamper.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const ACS3_ALGORITHM = 'ACS3-HMAC-SHA256';
/** sha256 of the empty body, hex. */
export const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');

/** RFC 3986 percent-encoding as the SDKs do it: encodeURIComponent plus `!'()*`. */
export function percentEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

/**
 * V1 string-to-sign over decoded params (query + form, without `Signature`), sorted by key in
 * UTF-16 order as JS `sort()` does, then re-encoded: the raw query is never signed as-is.
 */
export function v1StringToSign(method: string, params: Readonly<Record<string, string>>): string {
  const canonical = Object.keys(params)
    .filter((k) => k !== 'Signature')
    .sort()
    .map((k) => `${percentEncode(k)}=${percentEncode(params[k]!)}`)
    .join('&');
  return `${method.toUpperCase()}&${percentEncode('/')}&${percentEncode(canonical)}`;
}

/** base64(HMAC-SHA1(secret + '&', stringToSign)). */
export function v1Signature(stringToSign: string, accessKeySecret: string): string {
  return createHmac('sha1', accessKeySecret + '&').update(stringToSign).digest('base64');
}

export interface Acs3Authorization {
  algorithm: string;
  accessKeyId: string;
  signedHeaders: string[];
  signature: string;
}

/** Parses `ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…`; undefined when malformed. */
export function parseAcs3Authorization(header: string): Acs3Authorization | undefined {
  const m = /^(ACS3-[A-Z0-9-]+) Credential=([^,\s]+),SignedHeaders=([^,\s]+),Signature=([0-9a-fA-F]+)$/.exec(header.trim());
  if (!m) return undefined;
  return { algorithm: m[1]!, accessKeyId: m[2]!, signedHeaders: m[3]!.split(';'), signature: m[4]!.toLowerCase() };
}

export interface CanonicalRequestInput {
  method: string;
  /** The request path as sent, e.g. `/`. */
  pathname: string;
  /** Decoded query params. */
  query: Readonly<Record<string, string>>;
  /** Lower-cased header name → every value received. */
  headers: Readonly<Record<string, readonly string[]>>;
  /** Lower-cased names from the Authorization header, in its order. */
  signedHeaders: readonly string[];
  /** hex sha256 of the body. */
  payloadHash: string;
}

/** The V3 canonical request: query keys sorted and not encoded, values encoded; headers `name:v1,v2`. */
export function v3CanonicalRequest(i: CanonicalRequestInput): string {
  const query = Object.keys(i.query)
    .sort()
    .map((k) => `${k}=${percentEncode(i.query[k]!)}`)
    .join('&');
  const headers = i.signedHeaders
    .map((h) => {
      const values = (i.headers[h] ?? []).map((v) => v.trim()).sort();
      return `${h}:${values.join(',')}\n`;
    })
    .join('');
  return `${i.method.toUpperCase()}\n${i.pathname}\n${query}\n${headers}\n${i.signedHeaders.join(';')}\n${i.payloadHash}`;
}

/** `ACS3-HMAC-SHA256\n` + hex sha256(canonical request). */
export function v3StringToSign(canonicalRequest: string): string {
  return `${ACS3_ALGORITHM}\n${sha256Hex(canonicalRequest)}`;
}

/** hex HMAC-SHA256(secret, stringToSign). */
export function v3Signature(stringToSign: string, accessKeySecret: string): string {
  return createHmac('sha256', accessKeySecret).update(stringToSign).digest('hex');
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Constant-time string comparison (signatures). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
