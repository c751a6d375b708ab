/**
 * How a failed call is logged: the same `toStatus` that answers the client decides the level, so
 * the log and the status never disagree. A client that left (cancel, deadline) is info with
 * `durationMs`; caller mistakes are info; overload and backend trouble warn; anything unexpected
 * is an error with its detail, which the client never sees. Values are never logged.
 */
import { status } from '@grpc/grpc-js';
import { toStatus } from '../status';
import type { Logger } from '../../telemetry/logger';
import { ServerShuttingDownError } from './shutdown';

const CALLER_MISTAKES = new Set<number>([status.INVALID_ARGUMENT, status.NOT_FOUND, status.PERMISSION_DENIED, status.UNAUTHENTICATED]);
const OVERLOAD_OR_BACKEND = new Set<number>([status.RESOURCE_EXHAUSTED, status.UNAVAILABLE, status.DEADLINE_EXCEEDED]);

/** Logs the outcome of a call that ended with `err`; `clientSignal` is the call's own signal. */
export function logFailure(log: Logger, what: string, err: unknown, clientSignal: AbortSignal, durationMs: number): void {
  const st = toStatus(err, clientSignal);
  const fields = { code: status[st.code], durationMs };
  if (clientSignal.aborted) return log.info(`${what}: the client left`, fields);
  if (err instanceof ServerShuttingDownError) return log.info(`${what}: ended for shutdown`, fields);
  if (CALLER_MISTAKES.has(st.code)) return log.info(`${what}: ${st.details}`, fields);
  if (OVERLOAD_OR_BACKEND.has(st.code)) return log.warn(`${what}: ${st.details}`, fields);
  log.error(`${what}: failed`, { ...fields, error: err });
}
