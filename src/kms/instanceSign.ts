/**
 * Signing for a dedicated KMS instance's own API, as the official instance SDKs do it (Go, Python
 * and Java `doRequest`/`getStringToSign` agree; shared docs dkms-clientkey.md §2):
 *
 *   METHOD \n content-sha256 \n content-type \n date \n
 *   one `key:trimmed-value\n` per `x-kms-*` header, keys ascending \n
 *   `/`                                   (the canonical resource, no trailing newline)
 *
 * signed with RSA PKCS#1 v1.5 over SHA-256 and sent as `authorization: Bearer <base64>`.
 * The emulator verifies with the same `stringToSign`, so both ends share one definition.
 */
import { createHash, sign, type KeyObject } from 'node:crypto';

export const INSTANCE_API_VERSION = 'dkms-gcs-0.2';
export const SIGNATURE_METHOD = 'RSA_PKCS1_SHA_256';
export const PROTOBUF = 'application/x-protobuf';
/** The KeyId header. The triple "c" is how every SDK and the server spell it. */
export const KEY_ID_HEADER = 'x-kms-acccesskeyid';

/** Upper-case hex SHA-256 of the body, as the `content-sha256` header carries it. */
export function contentSha256(body: Uint8Array): string {
  return createHash('sha256').update(body).digest('hex').toUpperCase();
}

export interface SignedParts {
  method: string;
  /** Lower-case header name → value. Only content-sha256, content-type, date and `x-kms-*` are read. */
  headers: Readonly<Record<string, string | undefined>>;
}

export function stringToSign({ method, headers }: SignedParts): string {
  const kms = Object.keys(headers)
    .filter((k) => k.startsWith('x-kms-') && headers[k] !== undefined)
    .sort()
    .map((k) => `${k}:${headers[k]!.trim()}\n`)
    .join('');
  return `${method}\n${headers['content-sha256'] ?? ''}\n${headers['content-type'] ?? ''}\n${headers.date ?? ''}\n${kms}/`;
}

/** RSA PKCS#1 v1.5 SHA-256 of the UTF-8 string, base64. */
export function signString(text: string, key: KeyObject): string {
  return sign('sha256', Buffer.from(text, 'utf8'), key).toString('base64');
}

export interface InstanceRequestParts {
  apiName: string;
  keyId: string;
  body: Uint8Array;
  /** The instance host[:port] for the `host` header. */
  host: string;
  now: number;
  userAgent?: string;
}

/** Every header of a signed instance-API request, `authorization` included. */
export function signedHeaders(p: InstanceRequestParts, key: KeyObject): Record<string, string> {
  const headers: Record<string, string> = {
    accept: PROTOBUF,
    host: p.host,
    date: new Date(p.now).toUTCString(),
    'user-agent': p.userAgent ?? 'secrets-gateway',
    'x-kms-apiversion': INSTANCE_API_VERSION,
    'x-kms-apiname': p.apiName,
    'x-kms-signaturemethod': SIGNATURE_METHOD,
    [KEY_ID_HEADER]: p.keyId,
    'content-type': PROTOBUF,
    'content-length': String(p.body.length),
    'content-sha256': contentSha256(p.body),
  };
  headers.authorization = `Bearer ${signString(stringToSign({ method: 'POST', headers }), key)}`;
  return headers;
}
