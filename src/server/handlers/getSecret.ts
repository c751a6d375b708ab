/**
 * GetSecret: authenticate, validate, limit, authorize, read through the cache with the call's
 * signal, audit, answer with encoded bytes. No business rules here: staleness and sources are the
 * cache's, who may read what is the policy's, status codes are `status.ts`'s.
 *
 * The hot path: when the caller is known without a token to verify and the cache answers from L1
 * (`getLocal`), the checks run in the handler's own tick and the answer leaves with no signal,
 * timer or logger built, in the same order of checks: at once without an audit sink, else as soon
 * as the sink has taken the line (the one promise). Anything else (a token, a miss, any failure
 * before the read) continues in `finish`, which is the path every call took before.
 */
import type { handleUnaryCall, ServerUnaryCall } from '@grpc/grpc-js';
import type { GetSecretRequest } from '../../gen/secretsgateway/v1/secrets_gateway';
import type { SecretSelector } from '../../model';
import type { Logger } from '../../telemetry/logger';
import type { ReadResult, SecretReader } from '../../watch/reader';
import type { Caller } from '../../auth/gate';
import { abortable } from '../../abort';
import { AnswerEncoder, type GetSecretAnswer } from '../answerWire';
import { createCallContext } from '../callContext';
import { toServiceError } from '../status';
import { validateGetSecret } from '../validate';
import { audit, decide, type AccessDeps } from './access';
import { logFailure } from './outcome';

export interface GetSecretDeps {
  reader: SecretReader;
  logger: Logger;
  access: AccessDeps;
  /** Encodes answers, reusing an entry's bytes. @default one of its own */
  encoder?: AnswerEncoder;
  /** Told the secret name once validated (telemetry's span attribute); unset without telemetry. */
  onValidatedName?: (call: object, name: string) => void;
}

type Call = ServerUnaryCall<GetSecretRequest, GetSecretAnswer>;
type Callback = Parameters<handleUnaryCall<GetSecretRequest, GetSecretAnswer>>[1];

/** How far a call got before it left the synchronous path. */
interface Progress {
  caller?: Caller;
  sel?: SecretSelector;
  maxStalenessMs?: number;
  /** Thrown on the synchronous path. */
  err?: unknown;
}

/** The signal of a call answered without a call context: the answer was read before any cancel could matter. */
const NEVER_ABORTED = new AbortController().signal;
const NO_BOUND = Object.freeze({});

export function createGetSecretHandler(deps: GetSecretDeps): handleUnaryCall<GetSecretRequest, GetSecretAnswer> {
  const { access, reader } = deps;
  const encoder = deps.encoder ?? new AnswerEncoder();
  const debug = deps.logger.enabled?.('debug') ?? true;

  /** validate → per-caller limit → policy, recording in `p` how far it got. Throws the refusal. */
  const admit = (call: Call, caller: Caller, p: Progress): SecretSelector => {
    p.caller = caller;
    const req = validateGetSecret(call.request);
    const sel = (p.sel = req.sel);
    p.maxStalenessMs = req.maxStalenessMs;
    deps.onValidatedName?.(call, sel.name);
    access.rateLimits?.takeGetSecret(caller.limitKey);
    // Before the cache: a denied caller learns nothing about whether the secret exists or is cached.
    access.gate.authorize(caller, sel);
    return sel;
  };

  const answer = (call: Call, callback: Callback, caller: Caller, sel: SecretSelector, r: ReadResult, startedAtMs: number) => {
    callback(null, encoder.encode(r));
    if (debug) logFor(deps.logger, call, caller, sel).debug('GetSecret answered', { source: r.freshness.source, durationMs: Date.now() - startedAtMs });
  };

  const fail = (call: Call, callback: Callback, p: Progress, failure: unknown, signal: AbortSignal, peer: string, durationMs: number) => {
    logFailure(logFor(deps.logger, call, p.caller, p.sel, peer), 'GetSecret', failure, signal, durationMs);
    callback(toServiceError(failure, signal));
  };

  /** The rest of a call that could not be answered in its own tick: the full path, with the call's signal. */
  const finish = async (call: Call, callback: Callback, p: Progress, pending?: Promise<Caller>): Promise<void> => {
    const ctx = createCallContext(call);
    let r: ReadResult | undefined;
    try {
      if (p.err !== undefined) throw p.err;
      const caller = p.caller ?? (await pending!);
      const sel = p.sel ?? admit(call, caller, p);
      const { maxStalenessMs } = p;
      // The cache raises a max_staleness below its forced-refresh floor (a cache policy, not ours).
      const opts = {
        signal: ctx.signal,
        ...(maxStalenessMs === undefined ? {} : { maxStalenessMs }),
        ...(access.rateLimits ? { admitMiss: () => access.rateLimits!.takeMiss(caller.limitKey) } : {}),
      };
      // abortable: even a reader that ignores the signal cannot hold the handler past the client.
      r = await abortable(reader.get(sel, opts), ctx.signal);
      const served = { versionId: r.secret.versionId, source: r.freshness.source };
      await audit(access, { method: 'GetSecret', caller, peer: ctx.peer, sel, served, clientSignal: ctx.signal, metadata: call.metadata });
      answer(call, callback, caller, sel, r, ctx.startedAtMs);
    } catch (err) {
      let failure = err;
      if (!r) {
        // A value that was read but could not be audited is never sent; the failure itself is audited.
        const { caller, sel } = p;
        await audit(access, { method: 'GetSecret', caller, peer: ctx.peer, sel, err, clientSignal: ctx.signal, metadata: call.metadata }).catch((e: unknown) => (failure = e));
      }
      fail(call, callback, p, failure, ctx.signal, ctx.peer, ctx.elapsedMs());
    } finally {
      ctx.close();
    }
  };

  return (call, callback) => {
    const startedAtMs = Date.now();
    const p: Progress = {};
    let pending: Promise<Caller> | undefined;
    try {
      const caller = access.gate.identify(call);
      if (caller instanceof Promise) pending = caller;
      else {
        const sel = admit(call, caller, p);
        const r = reader.getLocal?.(sel, p.maxStalenessMs === undefined ? NO_BOUND : { maxStalenessMs: p.maxStalenessMs });
        if (r) {
          const record = decide(access, { method: 'GetSecret', caller, peer: caller.peer, sel, served: { versionId: r.secret.versionId, source: r.freshness.source }, clientSignal: NEVER_ABORTED, metadata: call.metadata });
          if (record === undefined) return answer(call, callback, caller, sel, r, startedAtMs); // no sink: nothing to wait for
          // The answer waits for its line, as on every path. The sink bounds the wait, so no call signal is needed.
          void access.audit!.write(record).then(
            () => answer(call, callback, caller, sel, r, startedAtMs),
            (err: unknown) => fail(call, callback, p, err, NEVER_ABORTED, caller.peer, Date.now() - startedAtMs),
          );
          return;
        }
      }
    } catch (err) {
      p.err = err;
    }
    void finish(call, callback, p, pending);
  };
}

/** The call's logger, built only when something is logged. */
function logFor(logger: Logger, call: Call, caller: Caller | undefined, sel: SecretSelector | undefined, peer?: string): Logger {
  return logger.child({
    method: 'GetSecret',
    peer: peer ?? caller?.peer ?? call.getPeer(),
    ...(sel ? { secretName: sel.name } : {}),
    ...(caller?.identity ? { caller: caller.identity } : {}),
  });
}
