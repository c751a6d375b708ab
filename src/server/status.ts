/**
 * The one place that turns any thrown value into a gRPC status. Handlers, logging and spans all
 * use `toStatus`, so a given failure is reported the same way everywhere.
 */
import { Metadata, status, type StatusObject } from '@grpc/grpc-js';
import {
  AccessDeniedError,
  BackendUnavailableError,
  PolicyDeniedError,
  UnauthenticatedError,
  InvalidArgumentError,
  isAbortError,
  ResourceExhaustedError,
  SecretNotFoundError,
  ThrottledError,
} from '../errors';

export type GrpcStatus = Pick<StatusObject, 'code' | 'details'>;

/**
 * Maps an error to a status. When the call's own signal has aborted, the client went away or its
 * deadline passed: that is reported as CANCELLED / DEADLINE_EXCEEDED, never as a server failure.
 * Unknown errors become INTERNAL with a generic message; their detail belongs in the log only.
 */
export function toStatus(err: unknown, signal?: AbortSignal): GrpcStatus {
  if (signal?.aborted) {
    const reason = signal.reason as Error | undefined;
    return reason?.name === 'TimeoutError'
      ? { code: status.DEADLINE_EXCEEDED, details: 'deadline exceeded' }
      : { code: status.CANCELLED, details: 'cancelled by the client' };
  }
  if (err instanceof InvalidArgumentError) return { code: status.INVALID_ARGUMENT, details: err.message };
  if (err instanceof SecretNotFoundError) return { code: status.NOT_FOUND, details: err.message };
  if (err instanceof AccessDeniedError) return { code: status.PERMISSION_DENIED, details: err.message };
  if (err instanceof PolicyDeniedError) return { code: status.PERMISSION_DENIED, details: err.message };
  if (err instanceof UnauthenticatedError) return { code: status.UNAUTHENTICATED, details: err.message };
  if (err instanceof ThrottledError) return { code: status.RESOURCE_EXHAUSTED, details: err.message };
  if (err instanceof ResourceExhaustedError) return { code: status.RESOURCE_EXHAUSTED, details: err.message };
  // Includes BackendAuthError: KMS refusing the gateway's own credentials says nothing about the secret.
  if (err instanceof BackendUnavailableError) return { code: status.UNAVAILABLE, details: err.message };
  // The call's own signal is not aborted (checked above), so this abort was the gateway's own
  // (an internal timeout or the watch hub closing): the client should reconnect, not give up.
  if (isAbortError(err)) return { code: status.UNAVAILABLE, details: 'the gateway gave up waiting for a backend; retry' };
  return { code: status.INTERNAL, details: 'internal error' };
}

/** A ServiceError-shaped object for grpc-js callbacks and `emit('error')`. */
export function toServiceError(err: unknown, signal?: AbortSignal): Partial<StatusObject> & Error {
  const s = toStatus(err, signal);
  const metadata = new Metadata();
  // A per-caller limit says when to come back (gRPC's own retry-pushback key is for the client library).
  if (s.code === status.RESOURCE_EXHAUSTED && err instanceof ResourceExhaustedError && err.retryAfterMs !== undefined) {
    metadata.set('retry-after-ms', String(Math.max(1, Math.ceil(err.retryAfterMs))));
  }
  return Object.assign(new Error(s.details), { code: s.code, details: s.details, metadata });
}
