/**
 * Request authentication: V1 (HMAC-SHA1, query) and V3 (ACS3-HMAC-SHA256, Authorization header),
 * against configured AccessKey pairs and issued STS sessions. Checks run in the order a POP
 * gateway reports them: key lookup, STS token binding, signature, timestamp window, nonce replay.
 * A nonce is recorded only once the signature verified, so forged requests cannot burn nonces.
 */
import { KmsApiError, missing } from './errors';
import type { NonceCache } from './nonceCache';
import type { StsService } from './sts';
import { parseIsoUtc } from './time';
import {
  ACS3_ALGORITHM,
  parseAcs3Authorization,
  percentEncode,
  safeEqual,
  sha256Hex,
  v1Signature,
  v1StringToSign,
  v3CanonicalRequest,
  v3Signature,
  v3StringToSign,
} from './signature';

/** The allowed clock difference between client and emulator, as on the real gateway. */
export const TIMESTAMP_WINDOW_MS = 15 * 60 * 1000;

/** What the server parsed from the request. */
export interface AuthRequest {
  method: string;
  pathname: string;
  query: Readonly<Record<string, string>>;
  form: Readonly<Record<string, string>>;
  /** Lower-cased header name → all values. */
  headers: Readonly<Record<string, readonly string[]>>;
  body: Buffer;
}

export interface AuthResult {
  signatureVersion: 'v1' | 'v3';
  credential: 'ak' | 'sts';
  accessKeyId: string;
}

export interface Authenticator {
  /** Verifies the request; throws KmsApiError with the gateway's code when it must be rejected. */
  authenticate(req: AuthRequest, opts?: { stsMessages?: boolean }): AuthResult;
  /** Which scheme the request claims, without verifying (for the request log). */
  scheme(req: AuthRequest): 'v1' | 'v3' | 'none';
}

export interface AuthenticatorDeps {
  accessKeys: ReadonlyMap<string, string>;
  sts: StsService;
  nonces: NonceCache;
  now: () => number;
}

/** Headers V3 requests must sign when present; without them a proxy could replay or redirect. */
const MUST_SIGN = ['host', 'x-acs-date', 'x-acs-signature-nonce', 'x-acs-content-sha256', 'x-acs-action', 'x-acs-version', 'x-acs-security-token', 'x-acs-accesskey-id'];

const header = (req: AuthRequest, name: string): string | undefined => req.headers[name]?.[0];

export function createAuthenticator(deps: AuthenticatorDeps): Authenticator {
  const resolveKey = (accessKeyId: string, token: string | undefined): { secret: string; credential: 'ak' | 'sts' } => {
    const secret = deps.accessKeys.get(accessKeyId);
    if (secret !== undefined) return { secret, credential: 'ak' };
    const session = deps.sts.lookup(accessKeyId);
    if (!session) throw new KmsApiError('InvalidAccessKeyId.NotFound', 404, 'Specified access key is not found.');
    if (token === undefined || !safeEqual(token, session.securityToken)) {
      throw new KmsApiError('InvalidSecurityToken.MismatchWithAccessKey', 400, 'Specified SecurityToken mismatch with the AccessKey.');
    }
    if (session.expiresAtMs <= deps.now()) throw new KmsApiError('InvalidSecurityToken.Expired', 400, 'Specified SecurityToken is expired.');
    return { secret: session.accessKeySecret, credential: 'sts' };
  };

  const checkFreshness = (timestamp: string | undefined, nonce: string | undefined) => {
    if (!timestamp) throw new KmsApiError('IllegalTimestamp', 400, 'The input parameter "Timestamp" that is mandatory for processing this request is not supplied.');
    const ts = parseIsoUtc(timestamp);
    if (ts === undefined) throw new KmsApiError('IllegalTimestamp', 400, 'Specified time stamp or date value is not well formatted.');
    if (Math.abs(deps.now() - ts) > TIMESTAMP_WINDOW_MS) throw new KmsApiError('IllegalTimestamp', 400, 'Specified time stamp or date value is expired.');
    if (!nonce) throw missing('SignatureNonce');
    if (!deps.nonces.add(nonce, ts)) throw new KmsApiError('SignatureNonceUsed', 400, 'Specified signature nonce was used already.');
  };

  const mismatch = (stringToSign: string, stsMessages: boolean) =>
    new KmsApiError(
      'SignatureDoesNotMatch',
      400,
      // STS words it differently; @alicloud/credentials matches that exact prefix.
      `${stsMessages ? 'Specified signature is not matched with our calculation.' : 'Specified signature does not match our calculation.'} server string to sign is:${stringToSign}`,
    );

  const verifyV3 = (req: AuthRequest, authorization: string, stsMessages: boolean): AuthResult => {
    const authz = parseAcs3Authorization(authorization);
    if (!authz) throw new KmsApiError('IncompleteSignature', 400, 'The Authorization header is malformed.');
    if (authz.algorithm !== ACS3_ALGORITHM) throw new KmsApiError('IncompleteSignature', 400, `Signature algorithm ${authz.algorithm} is not supported by this emulator.`);
    const signed = authz.signedHeaders.map((h) => h.toLowerCase());
    for (const h of MUST_SIGN) {
      if ((h === 'host' || req.headers[h]) && !signed.includes(h)) throw new KmsApiError('IncompleteSignature', 400, `The header ${h} must be signed.`);
    }
    const key = resolveKey(authz.accessKeyId, header(req, 'x-acs-security-token'));
    const payloadHash = sha256Hex(req.body);
    const claimed = header(req, 'x-acs-content-sha256');
    if (claimed !== undefined && claimed.toLowerCase() !== payloadHash) {
      throw new KmsApiError('InvalidParameter.ContentSha256', 400, 'The x-acs-content-sha256 header does not match the request body.');
    }
    const canonical = v3CanonicalRequest({ method: req.method, pathname: req.pathname, query: req.query, headers: req.headers, signedHeaders: signed, payloadHash });
    const stringToSign = v3StringToSign(canonical);
    if (!safeEqual(v3Signature(stringToSign, key.secret), authz.signature)) throw mismatch(stringToSign, stsMessages);
    checkFreshness(header(req, 'x-acs-date'), header(req, 'x-acs-signature-nonce'));
    return { signatureVersion: 'v3', credential: key.credential, accessKeyId: authz.accessKeyId };
  };

  const verifyV1 = (req: AuthRequest, stsMessages: boolean): AuthResult => {
    const params: Record<string, string> = { ...req.query, ...req.form };
    if (!params.AccessKeyId) throw missing('AccessKeyId');
    if (params.SignatureMethod !== 'HMAC-SHA1') throw new KmsApiError('IncompleteSignature', 400, 'SignatureMethod must be HMAC-SHA1.');
    if (params.SignatureVersion !== undefined && params.SignatureVersion !== '1.0') throw new KmsApiError('IncompleteSignature', 400, 'SignatureVersion must be 1.0.');
    const key = resolveKey(params.AccessKeyId, params.SecurityToken);
    const stringToSign = v1StringToSign(req.method, params);
    if (!safeEqual(v1Signature(stringToSign, key.secret), params.Signature ?? '')) {
      // The V1 string-to-sign embeds every parameter, the SecurityToken and a SecretData among
      // them; the emulator echoes neither.
      const masked = [params.SecurityToken, params.SecretData]
        .filter((v): v is string => !!v)
        .reduce((sts, v) => sts.split(percentEncode(percentEncode(v))).join('***'), stringToSign);
      throw mismatch(masked, stsMessages);
    }
    checkFreshness(params.Timestamp, params.SignatureNonce);
    return { signatureVersion: 'v1', credential: key.credential, accessKeyId: params.AccessKeyId };
  };

  const scheme = (req: AuthRequest): 'v1' | 'v3' | 'none' => {
    if (header(req, 'authorization')?.startsWith('ACS3-')) return 'v3';
    if (req.query.Signature !== undefined || req.form.Signature !== undefined) return 'v1';
    return 'none';
  };

  return {
    scheme,
    authenticate(req, opts = {}) {
      const stsMessages = opts.stsMessages ?? false;
      switch (scheme(req)) {
        case 'v3':
          return verifyV3(req, header(req, 'authorization')!, stsMessages);
        case 'v1':
          return verifyV1(req, stsMessages);
        default:
          throw new KmsApiError('MissingSignature', 400, 'Signature is mandatory for this action.');
      }
    },
  };
}
