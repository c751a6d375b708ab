/**
 * The caller gate every RPC passes before the cache is touched: who is calling (exactly one
 * identity: a verified client certificate or a verified service-account token), may it make this
 * call now (per-caller rate limits), may it read this secret (the policy), and the audit line
 * that records the decision. Handlers call it; it knows nothing about KMS or the cache.
 *
 * A denied caller is answered the same way whether the secret exists, is cached or not: the
 * check runs before any lookup, and the message names only the caller and the requested name.
 */
import type { Metadata } from '@grpc/grpc-js';
import type { AuthContext } from '@grpc/grpc-js/build/src/auth-context';
import { TLSSocket, type PeerCertificate } from 'node:tls';
import { LRUCache } from 'lru-cache';
import { PolicyDeniedError, UnauthenticatedError } from '../errors';
import type { SecretSelector } from '../model';
import { identityFromCertificate, parseSubjectAltName } from './identity';

/** Verifies a bearer token and returns its identity (and expiry), or throws UnauthenticatedError. */
export interface TokenVerifier {
  verifyToken(token: string): Promise<{ identity: string; expiresAtMs?: number }>;
}

/** The policy as the gate needs it; `null` policy means every caller may read every secret. */
export interface PolicyView {
  decide(identity: string, secretName: string, stage: string | undefined, versionId: string | undefined): boolean;
}

/** The parts of a grpc-js server call the gate reads. */
export interface GateCall {
  metadata: Metadata;
  getPeer(): string;
  getAuthContext?(): AuthContext | null;
}

/** Who is calling. `identity` is null only when no policy is enforced (allow-all mode). */
export interface Caller {
  identity: string | null;
  /** How the identity was proven. */
  via: 'x509' | 'jwt' | 'none';
  /** The key for per-caller limits: the identity, or `peer:<ip>` without one. */
  limitKey: string;
  /** The peer address, for audit. */
  peer: string;
  /** When the credential stops being valid (token exp, certificate notAfter): open streams end then. */
  expiresAtMs?: number;
}

export interface CallerGateOptions {
  /** A verified client certificate is an identity (a client CA is configured). */
  acceptCertificates: boolean;
  /** Every call must present a verified client certificate (SECRETS_GATEWAY_TLS_CLIENT_AUTH=require). */
  requireCertificate: boolean;
  /** Bearer tokens are verified with this; unset: tokens are not accepted. */
  tokens?: TokenVerifier;
  /** Reads `current()` on every call, so a reload applies to the next call. Unset: allow all. */
  policy?: { readonly current: PolicyView };
}

const BEARER = /^Bearer ([A-Za-z0-9_\-.~+/=]+)$/i;

export class CallerGate {
  private readonly certs = new CertIdentities();
  private readonly socketCerts = new SocketCertificates();
  private readonly peerKeys = new PeerKeys();

  constructor(private readonly o: CallerGateOptions) {}

  /** Calls whose client certificate came from their connection's first call (tests). */
  get certificateReuses(): number {
    return this.socketCerts.hits;
  }

  /** True when a policy decides who reads what (and so every call needs an identity). */
  get enforcing(): boolean {
    return this.o.policy !== undefined;
  }

  /** Establishes exactly one identity, or rejects with UnauthenticatedError saying why (never echoing a credential). */
  async authenticate(call: GateCall): Promise<Caller> {
    return this.identify(call);
  }

  /**
   * `authenticate` without a promise when no token has to be verified (the hot path): returns the
   * Caller, or a promise of it for a bearer token; throws UnauthenticatedError synchronously.
   */
  identify(call: GateCall): Caller | Promise<Caller> {
    const peer = safePeer(call);
    const cert = this.o.acceptCertificates ? this.socketCerts.of(call) : undefined;
    const fromCert = cert ? this.certs.of(cert) : undefined;
    if (fromCert instanceof UnauthenticatedError) throw fromCert;
    const certId = fromCert?.identity;
    const auth = call.metadata.get('authorization');
    if (auth.length > 1) throw new UnauthenticatedError('more than one authorization header');
    const header = auth.length === 1 ? String(auth[0]) : undefined;

    // With SECRETS_GATEWAY_TLS_CLIENT_AUTH=require a token is no credential at all: it is ignored.
    const tokens = this.o.requireCertificate ? undefined : this.o.tokens;
    if (header !== undefined && tokens) {
      if (certId !== undefined) throw new UnauthenticatedError('both a client certificate and a bearer token were presented; present one');
      const m = BEARER.exec(header);
      if (!m) throw new UnauthenticatedError('the authorization header is not "Bearer <token>"');
      return tokens.verifyToken(m[1]!).then(({ identity, expiresAtMs }) => ({ identity, via: 'jwt', limitKey: identity, peer, ...(expiresAtMs ? { expiresAtMs } : {}) }));
    }
    if (certId !== undefined) {
      return { identity: certId, via: 'x509', limitKey: certId, peer, ...(fromCert!.expiresAtMs !== undefined ? { expiresAtMs: fromCert!.expiresAtMs } : {}) };
    }
    if (!this.enforcing) return { identity: null, via: 'none', limitKey: this.peerKeys.of(peer), peer };
    if (this.o.requireCertificate) throw new UnauthenticatedError('a client certificate signed by the configured client CA is required');
    if (header !== undefined) throw new UnauthenticatedError('bearer tokens are not accepted by this gateway');
    throw new UnauthenticatedError(
      this.o.tokens ? 'no credentials: present a client certificate or "authorization: Bearer <service-account token>"' : 'no credentials: present a client certificate',
    );
  }

  /** Throws PolicyDeniedError unless the caller may read `sel`. */
  authorize(caller: Caller, sel: SecretSelector): void {
    if (!this.allowed(caller, sel)) throw deny(caller, sel);
  }

  /** Whether the caller may (still) read `sel` under the current policy (open streams after a reload). */
  allowed(caller: Caller, sel: SecretSelector): boolean {
    // An ARN names the same secret as its bare name: the policy judges the name KMS will resolve,
    // or `*/x` would grant the top-level `x` through `acs:kms:<region>:<account>:secret/x`.
    return !this.o.policy || (caller.identity !== null && this.o.policy.current.decide(caller.identity, policyName(sel.name), sel.versionStage, sel.versionId));
  }
}

export function deny(caller: Caller, sel: SecretSelector): PolicyDeniedError {
  return new PolicyDeniedError(`the policy does not let ${JSON.stringify(caller.identity ?? 'this caller')} read secret ${JSON.stringify(sel.name)}`);
}

/** The secret name the policy judges: an ARN's name part, or the name itself. */
export function policyName(name: string): string {
  const arn = /^acs:kms:[^:]*:[^:]*:secret\/(.+)$/.exec(name);
  return arn ? arn[1]! : name;
}

function safePeer(call: GateCall): string {
  try {
    return call.getPeer();
  } catch {
    return 'unknown';
  }
}

/** `1.2.3.4:5678` → `1.2.3.4`, `[::1]:5678` → `::1`; anything else unchanged. */
export function peerHost(peer: string): string {
  const v6 = /^\[([^\]]+)\]:\d+$/.exec(peer);
  if (v6) return v6[1]!;
  const v4 = /^([^:]+):\d+$/.exec(peer);
  return v4 ? v4[1]! : peer;
}

/** A certificate's identity and expiry, or why it cannot be one. */
/**
 * The client certificate of a call, read once per TLS connection. grpc-js's `getAuthContext()`
 * calls `getPeerCertificate()`, which converts the whole certificate to a JS object, on every call:
 * about a quarter of an mTLS gateway's CPU under load. A connection's certificate cannot change
 * (Node's http2 disables TLS renegotiation on its sockets), so it is remembered per socket, weakly.
 * The socket is reached through grpc-js 1.14's call internals; where that path is not there (a
 * grpc-js that moved it, a test double), every call asks `getAuthContext()` as before.
 */
class SocketCertificates {
  private readonly bySocket = new WeakMap<TLSSocket, PeerCertificate | null>();
  /** Calls answered from a remembered certificate (tests: the internal path still works). */
  hits = 0;

  of(call: GateCall): PeerCertificate | undefined {
    const socket = tlsSocketOf(call);
    if (!socket) return call.getAuthContext?.()?.sslPeerCertificate;
    const known = this.bySocket.get(socket);
    if (known !== undefined) {
      this.hits++;
      return known ?? undefined;
    }
    // A call only arrives once the handshake is done, so what it says holds for the connection.
    const cert = call.getAuthContext?.()?.sslPeerCertificate;
    this.bySocket.set(socket, cert ?? null);
    return cert;
  }
}

/** call.call (ServerInterceptingCall) → … → nextCall.stream.session.socket in grpc-js 1.14. */
function tlsSocketOf(call: unknown): TLSSocket | undefined {
  let c = (call as { call?: unknown } | undefined)?.call;
  for (let depth = 0; depth < 8 && c && typeof c === 'object'; depth++) {
    const stream = (c as { stream?: { session?: { socket?: unknown } } }).stream;
    if (stream) {
      const socket = stream.session?.socket;
      return socket instanceof TLSSocket ? socket : undefined;
    }
    c = (c as { nextCall?: unknown }).nextCall;
  }
  return undefined;
}

type CertVerdict = { identity: string; expiresAtMs?: number } | UnauthenticatedError;

/** Certificates (and peer addresses) remembered at once: one per connected workload is plenty. */
const MAX_REMEMBERED = 4096;

/**
 * What a client certificate proves, derived once per certificate rather than per call. grpc-js
 * builds a new certificate object for every call (`getPeerCertificate()`), so the key is the
 * certificate's SHA-256 fingerprint: a verdict is a pure function of the certificate's bytes, and
 * two certificates never share one. A certificate without a fingerprint is judged every time.
 */
class CertIdentities {
  private readonly byFingerprint = new LRUCache<string, CertVerdict>({ max: MAX_REMEMBERED });

  of(cert: PeerCertificate): CertVerdict | undefined {
    const fp = typeof cert.fingerprint256 === 'string' && cert.fingerprint256 !== '' ? cert.fingerprint256 : undefined;
    const hit = fp === undefined ? undefined : this.byFingerprint.get(fp);
    if (hit) return hit;
    let verdict: CertVerdict | undefined;
    try {
      verdict = judgeCertificate(cert);
    } catch (err) {
      if (!(err instanceof UnauthenticatedError)) throw err;
      verdict = err;
    }
    if (fp !== undefined && verdict !== undefined) this.byFingerprint.set(fp, verdict);
    return verdict;
  }
}

function judgeCertificate(cert: PeerCertificate): CertVerdict | undefined {
  const certId = identityFromCertificate(cert);
  if (certId === undefined) return undefined;
  // One namespace holds both kinds of identity: a certificate must not pose as a service account,
  // and a CN must not pose as a SPIFFE ID (only a URI SAN is one).
  if (/^system:/i.test(certId)) throw new UnauthenticatedError('a certificate identity may not start with "system:" (reserved for service-account tokens)');
  const fromUriSan = parseSubjectAltName(cert.subjectaltname ?? '').some((san) => san.type === 'URI' && san.value === certId);
  if (!fromUriSan && /[:/]/.test(certId)) throw new UnauthenticatedError('a certificate DNS name or CN identity may not contain ":" or "/"');
  const notAfter = Date.parse(cert.valid_to ?? '');
  return { identity: certId, ...(Number.isFinite(notAfter) ? { expiresAtMs: notAfter } : {}) };
}

/** `peer:<host>` per peer address, remembered (a connection makes many calls) up to a bound, then started over. */
class PeerKeys {
  private readonly keys = new Map<string, string>();

  of(peer: string): string {
    let key = this.keys.get(peer);
    if (key === undefined) {
      if (this.keys.size >= MAX_REMEMBERED) this.keys.clear();
      key = `peer:${peerHost(peer)}`;
      this.keys.set(peer, key);
    }
    return key;
  }
}
