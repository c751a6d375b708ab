/**
 * Turns whatever the Alibaba SDK throws into one of our typed errors, and decides whether it is
 * worth another attempt. The SDK's errors are duck-typed (ES5 classes: `instanceof` is useless,
 * kms-wire.md §2.3). Messages are composed here from the KMS code, HTTP status and RequestId
 * only: the SDK's own messages can carry the full V1 URL (AccessKeyId, Signature, SecurityToken),
 * and a SignatureDoesNotMatch message carries the string-to-sign, which includes the token.
 */
import {
  AccessDeniedError,
  BackendAuthError,
  BackendUnavailableError,
  GatewayError,
  InvalidArgumentError,
  SecretNotFoundError,
  ThrottledError,
  type KmsErrorDetail,
} from '../errors';

/**
 * What a failed attempt says, for where the next attempt should go:
 * - `definitive`: an answer about the secret or the gateway's credentials (NotFound, denied,
 *   invalid, bad signature). No other attempt will say otherwise.
 * - `throttled`: 429 / `Rejected.Throttling`; the target is healthy but over its quota.
 * - `busy`: 503 `ServiceUnavailableTemporary`; healthy but shedding load.
 * - `fault`: the target answered badly or too slowly (5xx, timeout, garbage): the breaker counts it.
 * - `unreachable`: no exchange at all (refused, reset, DNS, TLS handshake): outlier ejection.
 */
export type FailureKind = 'definitive' | 'throttled' | 'busy' | 'fault' | 'unreachable';

export interface Classified {
  error: GatewayError;
  /** Worth another attempt (this target after backoff, or another target). */
  retryable: boolean;
  /** Counts against the target's health (breaker, latency). NotFound is a healthy answer. */
  targetFault: boolean;
  kind: FailureKind;
  /** The target's own hint (Retry-After), ms, when its transport exposes one. */
  retryAfterMs?: number;
}

/**
 * How much a failure tells the caller, highest first: an answer about the secret, then throttling
 * (RESOURCE_EXHAUSTED: "slow down" is actionable), then a target that answered badly, then one that
 * could not be reached. A call that saw several reports the most informative.
 */
export const INFORMATIVENESS: Readonly<Record<FailureKind, number>> = { definitive: 4, throttled: 3, busy: 2, fault: 2, unreachable: 1 };

const NOT_FOUND = new Set(['Forbidden.ResourceNotFound', 'Forbidden.SecretNotFound', 'Rejected.ResourceInDeleteWindow', 'Forbidden.ResourceInDeleteWindow']);
const DENIED_PREFIXES = ['Forbidden.NoPermission', 'Forbidden.KmsServiceNotEnabled', 'Forbidden.InDebt', 'Forbidden.ProhibitedByRiskControl', 'Forbidden.RAM', 'Forbidden.NoPermission'];
const THROTTLED = new Set(['Rejected.Throttling', 'Throttling', 'Throttling.User', 'Throttling.Api']);
const TRANSIENT = new Set(['ServiceUnavailable', 'InternalFailure', 'InternalError', 'ServiceTimeout']);
// `Unauthorized` (unknown ClientKey) and `RequestTimeTooSkewed` are the instance API's (instanceApi.ts).
const AUTH_PREFIXES = ['SignatureDoesNotMatch', 'InvalidAccessKeyId', 'IncompleteSignature', 'IllegalTimestamp', 'InvalidTimeStamp', 'SignatureNonceUsed', 'InvalidSecurityToken', 'Forbidden.AccessKey', 'MissingSignature', 'InvalidCredentials', 'Unauthorized', 'RequestTimeTooSkewed'];
// `InvalidParam` is the instance API's spelling (it also covers the OpenAPI's InvalidParameter*).
const INVALID_PREFIXES = ['InvalidParam', 'MissingParameter', 'MissingSecretName', 'ParseRequestParameterException', 'InvalidVersionStage', 'InvalidVersionId'];
// Connection-level: nothing was exchanged with KMS, so the endpoint itself is the problem.
const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED', 'UND_ERR_SOCKET']);
// Busy, not broken: Alibaba's load-shedding answer. Plain 503s (a load balancer with no backend) stay faults.
const BUSY = new Set(['ServiceUnavailableTemporary']);
/** The longest retry hint honoured; a larger one is treated as this (a bad header must not park a target). */
export const MAX_RETRY_HINT_MS = 60_000;
const TLS = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|HOSTNAME_MISMATCH|ALTNAME/;

type SdkError = { name?: string; code?: string; statusCode?: number; retryAfterMs?: number; data?: { Code?: string; RequestId?: string; statusCode?: number } };

export function classify(err: unknown, what: string, regionId: string): Classified {
  const c = classifyOnce(err, what, regionId);
  const hint = (err as SdkError | undefined)?.retryAfterMs;
  if ((c.kind === 'throttled' || c.kind === 'busy') && typeof hint === 'number' && hint > 0) c.retryAfterMs = Math.min(hint, MAX_RETRY_HINT_MS);
  return c;
}

function classifyOnce(err: unknown, what: string, regionId: string): Classified {
  // Already typed by us (an incomplete response body): a fault of this target, worth another.
  if (err instanceof GatewayError) return { error: err, retryable: err instanceof BackendUnavailableError, targetFault: true, kind: err instanceof BackendUnavailableError ? 'fault' : 'definitive' };
  const e = (err ?? {}) as SdkError;
  const kmsCode = e.data?.Code ?? e.code;
  const httpStatus = e.statusCode ?? e.data?.statusCode;
  const detail: KmsErrorDetail = { kmsCode, httpStatus, requestId: e.data?.RequestId, regionId };
  const ref = [kmsCode, httpStatus && `HTTP ${httpStatus}`, detail.requestId && `request id ${detail.requestId}`].filter(Boolean).join(', ');
  const msg = (s: string) => `${what}: ${s}${ref ? ` (${ref})` : ''}`;
  const starts = (list: string[]) => !!kmsCode && list.some((p) => kmsCode.startsWith(p));

  if (kmsCode && NOT_FOUND.has(kmsCode)) return { error: new SecretNotFoundError(msg('secret not found'), detail), retryable: false, targetFault: false, kind: 'definitive' };
  if (starts(DENIED_PREFIXES)) return { error: new AccessDeniedError(msg('KMS denied access'), detail), retryable: false, targetFault: false, kind: 'definitive' };
  if (starts(AUTH_PREFIXES)) return { error: new BackendAuthError(msg('KMS rejected the gateway\'s credentials or signature'), detail), retryable: false, targetFault: false, kind: 'definitive' };
  if (starts(INVALID_PREFIXES)) return { error: new InvalidArgumentError('name', msg('KMS rejected the request'), detail), retryable: false, targetFault: false, kind: 'definitive' };
  if ((kmsCode && THROTTLED.has(kmsCode)) || httpStatus === 429) return { error: new ThrottledError(msg('KMS throttled the request'), detail), retryable: true, targetFault: false, kind: 'throttled' };
  if (kmsCode && BUSY.has(kmsCode)) return { error: new BackendUnavailableError(msg('KMS is busy'), detail), retryable: true, targetFault: false, kind: 'busy' };
  if ((kmsCode && TRANSIENT.has(kmsCode)) || (httpStatus !== undefined && httpStatus >= 500)) {
    return { error: new BackendUnavailableError(msg('KMS is temporarily unavailable'), detail), retryable: true, targetFault: true, kind: 'fault' };
  }
  if (e.name === 'RequestTimeoutError' || kmsCode === 'ESOCKETTIMEDOUT') return { error: new BackendUnavailableError(msg('KMS timed out'), detail), retryable: true, targetFault: true, kind: 'fault' };
  // A TLS failure is about this endpoint's certificate: another target may well be fine.
  if (kmsCode && TLS.test(kmsCode)) {
    return { error: new BackendAuthError(msg('TLS verification of the KMS endpoint failed; check caFilePath'), detail), retryable: true, targetFault: true, kind: 'unreachable' };
  }
  if (kmsCode && NETWORK.has(kmsCode)) return { error: new BackendUnavailableError(msg('cannot reach KMS'), detail), retryable: true, targetFault: true, kind: 'unreachable' };
  // A non-JSON body (a load balancer's HTML 502) surfaces as a bare SyntaxError.
  if (e.name === 'SyntaxError') return { error: new BackendUnavailableError(msg('KMS sent an unreadable response'), detail), retryable: true, targetFault: true, kind: 'fault' };
  if (httpStatus === 404) return { error: new SecretNotFoundError(msg('secret not found'), detail), retryable: false, targetFault: false, kind: 'definitive' };
  if (httpStatus === 403) return { error: new AccessDeniedError(msg('KMS denied access'), detail), retryable: false, targetFault: false, kind: 'definitive' };
  return { error: new BackendUnavailableError(msg('unexpected KMS failure'), detail), retryable: false, targetFault: true, kind: 'fault' };
}

/** Strips query strings (which may hold AccessKeyId, Signature, SecurityToken) from URLs in a message, for logs. */
export function redactUrls(message: string): string {
  return message.replace(/(https?:\/\/[^\s?]+)\?\S*/g, '$1?[redacted]');
}
