/**
 * Verifies Kubernetes projected service-account tokens locally, with `jose` (no hand-written JWT
 * crypto): signature against a JWKS (a file re-read on change, or a URL with a bounded cache),
 * `iss`, `aud`, `exp`/`nbf` with a leeway, RS256/ES256 only. The identity is the token's `sub`.
 *
 * Nothing here logs or throws any part of a token: errors carry a fixed short reason, and jose's
 * own errors (whose `payload` holds the claims) are never passed on as a cause.
 */
import { readFileSync, statSync, type Stats } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey, type JWTPayload, type KeyLike } from 'jose';
import { BackendUnavailableError, ConfigError, UnauthenticatedError } from '../errors';
import type { Logger } from '../telemetry/logger';
import { pollFile } from './watchedFile';
import { defaultOf } from '../config/settings';

/** The only signature algorithms accepted: never `none`, never HS* (a public key is not a secret). */
export const JWT_ALGORITHMS = ['RS256', 'ES256'] as const;

/** Longer than any real service-account token; bounds the work an attacker can make us do. */
const MAX_TOKEN_LENGTH = 16 * 1024;

/** Where the verification keys come from. */
export type JwksSource =
  | {
      /** A JWKS JSON file (e.g. a ConfigMap from `kubectl get --raw /openid/v1/jwks`), re-read when it changes. */
      file: string;
      /** How often the file is stat'ed. @default setting SECRETS_GATEWAY_TLS_RELOAD_INTERVAL_MS */
      pollIntervalMs?: number;
    }
  | {
      /**
       * A JWKS URL. The key set is cached and re-fetched (a) when a token names a `kid` it does not
       * hold, at most once per `cooldownMs`, and (b) when it is older than `cacheMaxAgeMs`. So an
       * attacker sending random `kid`s causes at most one fetch per `cooldownMs`; concurrent
       * misses share one fetch. Uses Node's trust store (add a cluster CA with NODE_EXTRA_CA_CERTS).
       */
      url: string;
      /** @default 30000 */
      cooldownMs?: number;
      /** @default 600000 */
      cacheMaxAgeMs?: number;
      /** Bound on one fetch. @default 5000 */
      timeoutMs?: number;
    };

export interface JwtVerifierOptions {
  /** Required `iss`. */
  issuer: string;
  /** `aud` must contain it. */
  audience: string;
  jwks: JwksSource;
  /** Clock skew allowed on `exp` and `nbf`, in seconds. @default 30 */
  leewaySeconds?: number;
  logger: Logger;
  /** The clock, in ms since the epoch (tests). @default Date.now */
  now?: () => number;
  /** Named in startup errors. @default 'SECRETS_GATEWAY_AUTH_JWKS_FILE' or '..._URL' */
  setting?: string;
}

export class JwtVerifier {
  private readonly opts: JwtVerifierOptions;
  private keys: JWTVerifyGetKey;
  private readonly closers: Array<() => void> = [];
  private reloading: Promise<boolean> = Promise.resolve(true);
  private closed = false;

  /** @throws ConfigError when the JWKS file cannot be read or is not a valid public key set, or the URL is not http(s). */
  constructor(opts: JwtVerifierOptions) {
    this.opts = opts;
    const src = opts.jwks;
    if ('file' in src) {
      const setting = opts.setting ?? 'SECRETS_GATEWAY_AUTH_JWKS_FILE';
      let baseline: Stats;
      try {
        baseline = statSync(src.file);
        this.keys = parseJwks(readFileSync(src.file, 'utf8'));
      } catch (err) {
        throw new ConfigError(setting, `${src.file}: ${reasonOf(err)}`);
      }
      const stop = pollFile(
        src.file,
        baseline,
        src.pollIntervalMs ?? defaultOf('SECRETS_GATEWAY_TLS_RELOAD_INTERVAL_MS'),
        () => void this.reload(),
        () => opts.logger.warn('JWKS file is gone; keeping the previous key set', { file: src.file }),
      );
      this.closers.push(stop);
    } else {
      const setting = opts.setting ?? 'SECRETS_GATEWAY_AUTH_JWKS_URL';
      let url: URL;
      try {
        url = new URL(src.url);
      } catch {
        throw new ConfigError(setting, 'not a URL');
      }
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError(setting, 'must be an http(s) URL');
      // Our own agent, so close() can end its sockets. No keep-alive and no socket cap: jose leaves
      // a non-200 response unread, which would pin a kept-alive socket, and with a cap the next
      // fetch would queue for a socket forever (its timeout starts only once it has one).
      const agent = url.protocol === 'https:' ? new https.Agent({ keepAlive: false }) : new http.Agent({ keepAlive: false });
      this.closers.push(() => agent.destroy());
      const remote = createRemoteJWKSet(url, { agent, cooldownDuration: src.cooldownMs, cacheMaxAge: src.cacheMaxAgeMs, timeoutDuration: src.timeoutMs });
      this.keys = async (header, token) => {
        try {
          return await remote(header, token);
        } catch (err) {
          if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys || err instanceof errors.JOSENotSupported) throw err;
          throw new KeySetUnavailable(err);
        }
      };
    }
  }

  /**
   * Verifies `token` (the bare JWT, without `Bearer `) and returns its `sub`.
   * @throws UnauthenticatedError with a short reason (`token expired`, `wrong audience`,
   *   `wrong issuer`, `signature does not verify`, `unsupported alg`, `malformed token`, ...).
   * @throws BackendUnavailableError when the JWKS URL cannot be fetched: the token may be fine.
   */
  async verify(token: string): Promise<string> {
    return (await this.verifyToken(token)).identity;
  }

  /** As `verify`, with the token's expiry (epoch ms), so a stream opened with it can end then. */
  async verifyToken(token: string): Promise<{ identity: string; expiresAtMs: number }> {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw new UnauthenticatedError('malformed token');
    let payload: JWTPayload;
    try {
      payload = await this.verifyWith(token, this.keys);
    } catch (err) {
      throw this.translate(err);
    }
    const sub = payload.sub;
    if (typeof sub !== 'string' || sub === '' || sub.length > 1024) throw new UnauthenticatedError('token has no valid subject');
    // Kubernetes service-account tokens only: any other subject shape is not an identity we grant.
    if (!/^system:serviceaccount:[a-z0-9]([-a-z0-9]*[a-z0-9])?:[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(sub)) throw new UnauthenticatedError('token subject is not a service account');
    return { identity: sub, expiresAtMs: (payload.exp ?? 0) * 1000 };
  }

  /**
   * Re-reads the JWKS file now (the watcher calls it on change). A bad file is logged and the
   * previous key set kept. Resolves true when the new set is in use. Calls are serialized.
   */
  reload(): Promise<boolean> {
    const src = this.opts.jwks;
    if (!('file' in src)) return Promise.resolve(false);
    this.reloading = this.reloading.then(async () => {
      if (this.closed) return false;
      try {
        const keys = parseJwks(await readFile(src.file, 'utf8'));
        if (this.closed) return false;
        this.keys = keys;
        this.opts.logger.info('JWKS reloaded', { file: src.file });
        return true;
      } catch (err) {
        this.opts.logger.warn('JWKS reload failed; keeping the previous key set', { file: src.file, reason: reasonOf(err) });
        return false;
      }
    });
    return this.reloading;
  }

  /** Stops the file watcher and ends the URL fetcher's sockets. Idempotent. */
  close(): void {
    this.closed = true;
    for (const c of this.closers.splice(0)) c();
  }

  private async verifyWith(token: string, keys: JWTVerifyGetKey): Promise<JWTPayload> {
    const options = {
      algorithms: [...JWT_ALGORITHMS],
      issuer: this.opts.issuer,
      audience: this.opts.audience,
      clockTolerance: this.opts.leewaySeconds ?? 30,
      // A token without `exp` would never expire; Kubernetes always sets it.
      requiredClaims: ['exp', 'sub'],
      currentDate: this.opts.now ? new Date(this.opts.now()) : undefined,
    };
    try {
      return (await jwtVerify(token, keys, options)).payload;
    } catch (err) {
      // A token without a `kid` matches every key of its type; jose leaves trying them to us.
      if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err;
      for await (const key of err as unknown as AsyncIterable<KeyLike>) {
        try {
          return (await jwtVerify(token, key, options)).payload;
        } catch (e) {
          if (!(e instanceof errors.JWSSignatureVerificationFailed)) throw e;
        }
      }
      throw new errors.JWSSignatureVerificationFailed();
    }
  }

  /** jose's error → ours. Only fixed strings: jose messages are safe today, but its errors carry the claims. */
  private translate(err: unknown): Error {
    if (err instanceof KeySetUnavailable) {
      this.opts.logger.warn('JWKS fetch failed', { reason: codeOf(err.cause) });
      return new BackendUnavailableError('the token signing keys could not be fetched');
    }
    if (err instanceof errors.JWTExpired) return new UnauthenticatedError('token expired');
    if (err instanceof errors.JWTClaimValidationFailed) {
      if (err.reason === 'missing') return new UnauthenticatedError(`token has no ${CLAIM_NAMES[err.claim] ?? 'required claim'}`);
      switch (err.claim) {
        case 'iss':
          return new UnauthenticatedError('wrong issuer');
        case 'aud':
          return new UnauthenticatedError('wrong audience');
        case 'nbf':
          return new UnauthenticatedError('token not yet valid');
        default:
          return new UnauthenticatedError('token claims are invalid');
      }
    }
    if (err instanceof errors.JWSSignatureVerificationFailed) return new UnauthenticatedError('signature does not verify');
    if (err instanceof errors.JWKSNoMatchingKey) return new UnauthenticatedError('unknown signing key');
    if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) return new UnauthenticatedError('unsupported alg');
    if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return new UnauthenticatedError('malformed token');
    // A key of the wrong type for the alg, a JWKS member jose cannot import, ...: the name only.
    this.opts.logger.warn('token rejected for an unexpected reason', { reason: codeOf(err) });
    return new UnauthenticatedError('token rejected');
  }
}

const CLAIM_NAMES: Record<string, string> = { exp: 'expiry', sub: 'subject', iss: 'issuer', aud: 'audience' };

/** A JWKS URL fetch failure, told apart from a bad token so the caller sees UNAVAILABLE. */
class KeySetUnavailable extends Error {
  constructor(cause: unknown) {
    super('JWKS unavailable', { cause });
  }
}

/**
 * A JWKS JSON text → a key lookup. Stricter than jose: at least one key, only public RSA/EC keys
 * (a symmetric or private member means the wrong file was mounted).
 */
function parseJwks(text: string): JWTVerifyGetKey {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    // Not the parser's message: it quotes the input.
    throw new Error('not valid JSON');
  }
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new Error('not a JWKS: needs a non-empty "keys" array');
  keys.forEach((k: unknown, i) => {
    if (!k || typeof k !== 'object') throw new Error(`keys[${i}]: not an object`);
    const { kty, d } = k as { kty?: unknown; d?: unknown };
    if (kty !== 'RSA' && kty !== 'EC') throw new Error(`keys[${i}]: kty must be RSA or EC`);
    if (d !== undefined) throw new Error(`keys[${i}]: holds private key material; mount the public key set only`);
  });
  return createLocalJWKSet(doc as { keys: [] });
}

function reasonOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('E') && !code.startsWith('ERR_J')) return code; // ENOENT, EACCES, ...
  return err instanceof Error ? err.message : 'unreadable';
}

/** An error's code or class name, never its message (which may quote input). */
function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  return err instanceof Error ? err.name : typeof err;
}
