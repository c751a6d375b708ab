/**
 * WatchSecret: authenticate, validate, limit, authorize and audit the opening (access.ts), take a
 * stream slot (limits), then run the watch module's delivery loop
 * with a sink that honours grpc-js backpressure. The stream ends on client cancel, on a typed error
 * from the watch (NOT_FOUND, PERMISSION_DENIED), or on shutdown (UNAVAILABLE); every path releases
 * the slot, the subscription and the listeners in `finally`.
 */
import type { handleServerStreamingCall, ServerWritableStream } from '@grpc/grpc-js';
import { deny } from '../../auth/gate';
import { PolicyDeniedError, UnauthenticatedError } from '../../errors';
import { MAX_TIMER_MS } from '../../abort';

/** Clock skew allowed past a credential's expiry (as the JWT verifier allows on exp). */
const CREDENTIAL_LEEWAY_MS = 30_000;
import type { WatchSecretRequest, WatchSecretResponse } from '../../gen/secretsgateway/v1/secrets_gateway';
import type { Fields, Logger } from '../../telemetry/logger';
import type { WatchHub } from '../../watch/hub';
import { runWatchStream, type StreamSink, type WatchMessage } from '../../watch/stream';
import { createCallContext } from '../callContext';
import type { Caller } from '../../auth/gate';
import type { SecretSelector } from '../../model';
import type { StreamLimits } from '../limits';
import { noteValidatedName } from '../instrument';
import { toServiceError } from '../status';
import { toWatchResponse } from '../toProto';
import { validateWatchSecret } from '../validate';
import { audit, type AccessDeps } from './access';
import { logFailure } from './outcome';
import { ServerShuttingDownError, type StreamRegistry } from './shutdown';

export interface WatchSecretDeps {
  hub: WatchHub;
  logger: Logger;
  heartbeatMs: number;
  limits: StreamLimits;
  access: AccessDeps;
  registry: StreamRegistry;
  /** Rotation detection → write latency of each pushed version, in ms (metrics). */
  onPushed?: (latencyMs: number) => void;
}

type Call = ServerWritableStream<WatchSecretRequest, WatchSecretResponse>;

export function createWatchSecretHandler(deps: WatchSecretDeps): handleServerStreamingCall<WatchSecretRequest, WatchSecretResponse> {
  return (call) => void handle(deps, call);
}

async function handle(deps: WatchSecretDeps, call: Call): Promise<void> {
  const ctx = createCallContext(call);
  // Ends the delivery loop: the client leaving (forwarded below), shutdown, a policy reload, credential expiry.
  const server = new AbortController();
  const onClientGone = () => server.abort(ctx.signal.reason);
  // The log context, as fields: a child logger is built only for a line actually written, not held by every idle stream.
  const fields: Fields = { method: 'WatchSecret', peer: ctx.peer };
  const log = () => deps.logger.child(fields);
  let release: (() => void) | undefined;
  let unregister: (() => void) | undefined;
  let caller: Caller | undefined;
  let sel: SecretSelector | undefined;
  let opened = false;
  let expiry: NodeJS.Timeout | undefined;
  const { access } = deps;
  try {
    if (deps.registry.shuttingDown) throw new ServerShuttingDownError();
    caller = await access.gate.authenticate(call);
    const req = validateWatchSecret(call.request);
    sel = req.sel;
    const { lastVersionId } = req;
    noteValidatedName(call, sel.name);
    Object.assign(fields, { secretName: sel.name, versionStage: sel.versionStage }, caller.identity ? { caller: caller.identity } : {});
    access.rateLimits?.takeStreamOpen(caller.limitKey);
    access.gate.authorize(caller, sel);
    release = deps.limits.acquire(caller.limitKey);
    const c = caller;
    const s = sel;
    // Registered before anything awaits, so a policy reload during the opening audit reaches it.
    unregister = deps.registry.add(
      (reason) => server.abort(reason),
      () => (access.gate.allowed(c, s) ? undefined : deny(c, s)),
    );
    await audit(access, { method: 'WatchSecret', caller, peer: ctx.peer, sel, clientSignal: ctx.signal, metadata: call.metadata });
    opened = true;
    if (!access.gate.allowed(c, s)) throw deny(c, s);
    // A stream lives no longer than the credential it was opened with (token exp, certificate notAfter).
    const left = c.expiresAtMs === undefined ? Infinity : c.expiresAtMs + CREDENTIAL_LEEWAY_MS - Date.now();
    // (Beyond one Node timer's reach, ~24.8 days, the connection's max age recycles the stream first.)
    if (left <= MAX_TIMER_MS) {
      expiry = setTimeout(() => server.abort(new UnauthenticatedError('the credential this stream was opened with has expired; reconnect with a fresh one')), Math.max(0, left));
    }
    log().debug('watch opened');
    // One listener rather than AbortSignal.any: the delivery loop waits on the server signal alone.
    if (ctx.signal.aborted) onClientGone();
    else ctx.signal.addEventListener('abort', onClientGone, { once: true });
    await runWatchStream({
      hub: deps.hub,
      sel,
      ...(lastVersionId === undefined ? {} : { lastVersionId }),
      sink: new GrpcSink(call),
      signal: server.signal,
      heartbeatMs: deps.heartbeatMs,
      // Every value that leaves is audited first; a sink that cannot record ends the stream.
      beforeSecret: (m) =>
        audit(access, { method: 'WatchSecret', caller: c, peer: ctx.peer, sel: s, served: { versionId: m.secret.versionId, source: m.freshness.source }, clientSignal: ctx.signal, metadata: call.metadata }),
      ...(deps.onPushed ? { onPushed: deps.onPushed } : {}),
    });
  } catch (err) {
    // A shutdown abort surfaces as the signal's reason; report the shutdown, not an abort.
    let cause = server.signal.aborted && !ctx.signal.aborted ? server.signal.reason : err;
    // Refusals are audited; so is a stream ended because a policy reload took its right away, or its credential expired.
    if (!opened || cause instanceof PolicyDeniedError || cause instanceof UnauthenticatedError) {
      await audit(access, { method: 'WatchSecret', caller, peer: ctx.peer, sel, err: cause, clientSignal: ctx.signal, metadata: call.metadata }).catch((e: unknown) => (cause = e));
    }
    logFailure(log(), 'WatchSecret', cause, ctx.signal, ctx.elapsedMs());
    // When the client has left there is nobody to tell (grpc-js answers an expired deadline itself).
    if (!ctx.signal.aborted) call.emit('error', toServiceError(cause, ctx.signal));
  } finally {
    clearTimeout(expiry);
    ctx.signal.removeEventListener('abort', onClientGone);
    release?.();
    unregister?.();
    ctx.close();
  }
}

/** Writes through grpc-js: `write()` false after 16 buffered messages means wait for 'drain'. A class: no closures per idle stream. */
class GrpcSink implements StreamSink {
  constructor(private readonly call: Call) {}

  write(m: WatchMessage): boolean {
    return this.call.write(toWatchResponse(m));
  }

  drained(signal: AbortSignal): Promise<void> {
    const { call } = this;
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const cleanup = () => {
        call.removeListener('drain', onDrain);
        signal.removeEventListener('abort', onAbort);
      };
      const onDrain = () => {
        cleanup();
        resolve();
      };
      const onAbort = () => {
        cleanup();
        reject(signal.reason);
      };
      call.once('drain', onDrain);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
