/**
 * Domain errors. `kms/`, `cache/` and `watch/` throw these; `server/status.ts` is the one
 * place that maps them to gRPC status codes. Messages never carry secret values,
 * credentials or tokens: they name the secret, the KMS code and the request id only.
 */

/** What KMS said, kept on KMS-derived errors for logs and operators. */
export interface KmsErrorDetail {
  /** The KMS error code, e.g. `Forbidden.ResourceNotFound`. */
  kmsCode?: string;
  /** The KMS RequestId, for support tickets. */
  requestId?: string;
  /** The HTTP status KMS answered with. */
  httpStatus?: number;
  /** The region of the target that answered. */
  regionId?: string;
}

export abstract class GatewayError extends Error {
  readonly detail: KmsErrorDetail;
  constructor(message: string, detail: KmsErrorDetail = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.detail = detail;
  }
  override get name(): string {
    return this.constructor.name;
  }
}

/** A request field is malformed. `field` is the proto field name. */
export class InvalidArgumentError extends GatewayError {
  constructor(
    readonly field: string,
    reason: string,
    detail?: KmsErrorDetail,
  ) {
    super(`${field}: ${reason}`, detail);
  }
}

/** The secret, stage or version does not exist (or is pending deletion). Never retried, never served stale. */
export class SecretNotFoundError extends GatewayError {}

/** KMS (or the gateway's policy) denied access. Never retried, never served stale. */
export class AccessDeniedError extends GatewayError {}

/** KMS throttled us, or the cluster's KMS request budget is exhausted. */
export class ThrottledError extends GatewayError {}

/** A transient backend failure: 5xx, network error, timeout, open circuit breakers. */
export class BackendUnavailableError extends GatewayError {}

/**
 * KMS rejected the gateway's own credentials, signature or TLS trust. It says nothing about the
 * secret, so it is a kind of unavailability: callers see UNAVAILABLE and cached values may be
 * served stale (an expired STS session is the usual cause). The pool does not retry it on the
 * same target with the same credentials.
 */
export class BackendAuthError extends BackendUnavailableError {}


/**
 * A per-caller or per-replica limit was reached. `retryAfterMs`, when known, reaches the caller
 * as `retry-after-ms` trailing metadata.
 */
export class ResourceExhaustedError extends GatewayError {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/**
 * The caller has no valid identity (no or a bad client certificate, a bad, expired or
 * wrong-audience token). The message says why in words and never echoes the credential.
 */
export class UnauthenticatedError extends GatewayError {}

/**
 * The gateway's policy does not let this identity read this secret. Distinct from
 * AccessDeniedError (KMS refused the gateway): the message never says whether the secret exists.
 */
export class PolicyDeniedError extends GatewayError {}

/** The audit sink cannot record the decision: the call fails closed (UNAVAILABLE). */
export class AuditUnavailableError extends BackendUnavailableError {}

/** A setting is invalid. `setting` is the name the operator wrote (env var or file key). */
export class ConfigError extends Error {
  constructor(
    readonly setting: string,
    reason: string,
  ) {
    super(`${setting}: ${reason}`);
  }
  override get name(): string {
    return 'ConfigError';
  }
}

/** True for failures worth retrying and worth answering stale for. One predicate, used everywhere. */
export function isTransient(err: unknown): boolean {
  return err instanceof BackendUnavailableError || err instanceof ThrottledError;
}

/** True for an abort caused by a signal (caller cancelled or deadline passed). */
export function isAbortError(err: unknown): boolean {
  return (
    err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError' || (err as { code?: string }).code === 'ABORT_ERR')
  );
}
