/**
 * Access control as both handlers run it, in one order: authenticate → validate → per-caller
 * rate limit → policy → (the cache) → audit → answer. The audit line is written before the
 * answer leaves, so a value is never served that the audit trail cannot record: a failing sink
 * turns the call into UNAVAILABLE.
 */
import { status, type Metadata } from '@grpc/grpc-js';
import type { AuditRecord } from '../../auth/audit';
import { peerHost, type Caller, type CallerGate } from '../../auth/gate';
import { PolicyDeniedError, ResourceExhaustedError, UnauthenticatedError } from '../../errors';
import type { SecretSelector } from '../../model';
import type { FreshnessSource } from '../../watch/reader';
import { toStatus } from '../status';

/** Per-caller token buckets (auth/rateLimits.ts satisfies it). Each throws ResourceExhaustedError with retryAfterMs. */
export interface CallerRateLimits {
  takeGetSecret(caller: string): void;
  takeStreamOpen(caller: string): void;
  takeMiss(caller: string): void;
  /** For a call that failed authentication, by peer address. */
  takeUnauthenticated?(peerKey: string): void;
}

/** Where decisions are recorded (auth/audit.ts satisfies it); `write` rejects when it cannot record. */
export interface AuditWriter {
  write(record: AuditRecord): Promise<void>;
}

export interface AccessDeps {
  gate: CallerGate;
  rateLimits?: CallerRateLimits;
  /** Unset: no audit trail (dev mode). */
  audit?: AuditWriter;
  /** Told every decision, audited or not (metrics). No identity, no secret name. */
  onDecision?: (d: { method: Method; decision: 'allow' | 'deny'; reason: DecisionReason }) => void;
}

/** Why a call was allowed or refused, as a bounded label. */
export type DecisionReason = 'ok' | 'unauthenticated' | 'policy' | 'rate_limited';

function reasonOf(err: unknown): DecisionReason {
  if (err instanceof UnauthenticatedError) return 'unauthenticated';
  if (err instanceof PolicyDeniedError) return 'policy';
  if (err instanceof ResourceExhaustedError && err.retryAfterMs !== undefined) return 'rate_limited';
  return 'ok';
}

export type Method = 'GetSecret' | 'WatchSecret';

/** What was asked and, when it was answered, what was served. */
export interface Decision {
  method: Method;
  caller?: Caller;
  peer: string;
  sel?: SecretSelector;
  served?: { versionId: string; source: FreshnessSource };
  /** The error the call ends with; undefined: OK. */
  err?: unknown;
  clientSignal: AbortSignal;
  metadata: Metadata;
}

/** Failures that are the gate's own decision to refuse: always audited as `deny`. */
export function isDenial(err: unknown): boolean {
  return err instanceof UnauthenticatedError || err instanceof PolicyDeniedError || (err instanceof ResourceExhaustedError && err.retryAfterMs !== undefined);
}

/**
 * Writes the decision's audit line (if there is a sink and the call reached a decision: a
 * malformed request is not one). Rejects when the sink cannot record it.
 */
export async function audit(deps: AccessDeps, d: Decision): Promise<void> {
  if (d.err instanceof UnauthenticatedError) chargeUnauthenticated(deps, d);
  const record = decide(deps, d);
  if (record) await deps.audit!.write(record);
}

/**
 * Tells `onDecision` and returns the audit line to write, synchronously: undefined when there is
 * nothing to write (no sink, or no decision), so a call without a sink awaits nothing.
 */
/**
 * A call that failed authentication spends its peer address's bucket. An empty bucket turns the
 * call into RESOURCE_EXHAUSTED (thrown, so the handler answers it) with no audit line: a flood
 * of garbage from one address is counted (the decision metric), not written line by line.
 */
function chargeUnauthenticated(deps: AccessDeps, d: Decision): void {
  if (!deps.rateLimits?.takeUnauthenticated) return;
  let host: string;
  try {
    host = peerHost(d.caller?.peer ?? d.peer);
  } catch {
    host = 'unknown';
  }
  try {
    deps.rateLimits.takeUnauthenticated(`peer:${host}`);
  } catch (err) {
    deps.onDecision?.({ method: d.method, decision: 'deny', reason: 'rate_limited' });
    throw err;
  }
}

export function decide(deps: AccessDeps, d: Decision): AuditRecord | undefined {
  if (!d.sel && !(d.err instanceof UnauthenticatedError)) return undefined;
  const denial = d.err !== undefined && isDenial(d.err);
  deps.onDecision?.({ method: d.method, decision: denial ? 'deny' : 'allow', reason: denial ? reasonOf(d.err) : 'ok' });
  if (!deps.audit) return undefined;
  const st = d.err === undefined ? { code: status.OK } : toStatus(d.err, d.clientSignal);
  return {
    time: new Date().toISOString(),
    identity: d.caller?.identity ?? null,
    peer: d.caller?.peer ?? d.peer,
    method: d.method,
    secretName: d.sel?.name ?? '',
    ...(d.sel?.versionStage ? { versionStage: d.sel.versionStage } : {}),
    ...(d.sel?.versionId ? { versionId: d.sel.versionId } : {}),
    ...(d.served ? { servedVersionId: d.served.versionId, freshness: d.served.source } : {}),
    decision: denial ? 'deny' : 'allow',
    code: (status[st.code] ?? 'UNKNOWN') as AuditRecord['code'],
    ...(d.err instanceof UnauthenticatedError || d.err instanceof ResourceExhaustedError ? { reason: d.err.message } : {}),
    ...traceIdOf(d.metadata),
  };
}

/** The W3C trace id from `traceparent`, when well-formed. */
function traceIdOf(md: Metadata): { traceId?: string } {
  const v = md.get('traceparent')[0];
  const m = typeof v === 'string' ? /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(v.trim()) : null;
  return m && !/^0+$/.test(m[1]!) ? { traceId: m[1]! } : {};
}
