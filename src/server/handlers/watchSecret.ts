/**
 * WatchSecret: authenticate, validate, limit, authorize and audit the opening (access.ts), take a
 * stream slot (limits), then run the watch module's delivery loop
 * with a sink that honours grpc-js backpressure. The stream ends on client cancel, on a typed error
 * from the watch (NOT_FOUND, PERMISSION_DENIED), or on shutdown (UNAVAILABLE); every path releases
 * the slot, the subscription and the listeners in `finally`.
 */
import type { handleServerStreamingCall, ServerWritableStream } from '@grpc/grpc-js';
import { deny } from '../../auth/gate';
import { PolicyDeniedError } from '../../errors';
import type { WatchSecretRequest, WatchSecretResponse } from '../../gen/secretsgateway/v1/secrets_gateway';
import type { Logger } from '../../telemetry/logger';
import type { WatchHub } from '../../watch/hub';
import { runWatchStream, type StreamSink } from '../../watch/stream';
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
  const server = new AbortController();
  let log = deps.logger.child({ method: 'WatchSecret', peer: ctx.peer });
  let release: (() => void) | undefined;
  let unregister: (() => void) | undefined;
  let caller: Caller | undefined;
  let sel: SecretSelector | undefined;
  let opened = false;
  const { access } = deps;
  try {
    if (deps.registry.shuttingDown) throw new ServerShuttingDownError();
    caller = await access.gate.authenticate(call);
    const req = validateWatchSecret(call.request);
    sel = req.sel;
    const { lastVersionId } = req;
    noteValidatedName(call, sel.name);
    log = log.child({ secretName: sel.name, versionStage: sel.versionStage, ...(caller.identity ? { caller: caller.identity } : {}) });
    access.rateLimits?.takeStreamOpen(caller.limitKey);
    access.gate.authorize(caller, sel);
    release = deps.limits.acquire(caller.limitKey);
    await audit(access, { method: 'WatchSecret', caller, peer: ctx.peer, sel, clientSignal: ctx.signal, metadata: call.metadata });
    opened = true;
    const c = caller;
    const s = sel;
    unregister = deps.registry.add(
      (reason) => server.abort(reason),
      () => (access.gate.allowed(c, s) ? undefined : deny(c, s)),
    );
    log.debug('watch opened');
    await runWatchStream({
      hub: deps.hub,
      sel,
      ...(lastVersionId === undefined ? {} : { lastVersionId }),
      sink: grpcSink(call),
      signal: AbortSignal.any([ctx.signal, server.signal]),
      heartbeatMs: deps.heartbeatMs,
      ...(deps.onPushed ? { onPushed: deps.onPushed } : {}),
    });
  } catch (err) {
    // A shutdown abort surfaces as the signal's reason; report the shutdown, not an abort.
    let cause = server.signal.aborted && !ctx.signal.aborted ? server.signal.reason : err;
    // Refusals are audited; so is a stream ended because a policy reload took its right away.
    if (!opened || cause instanceof PolicyDeniedError) {
      await audit(access, { method: 'WatchSecret', caller, peer: ctx.peer, sel, err: cause, clientSignal: ctx.signal, metadata: call.metadata }).catch((e: unknown) => (cause = e));
    }
    logFailure(log, 'WatchSecret', cause, ctx.signal, ctx.elapsedMs());
    // When the client has left there is nobody to tell (grpc-js answers an expired deadline itself).
    if (!ctx.signal.aborted) call.emit('error', toServiceError(cause, ctx.signal));
  } finally {
    release?.();
    unregister?.();
    ctx.close();
  }
}

/** Writes through grpc-js: `write()` false after 16 buffered messages means wait for 'drain'. */
function grpcSink(call: Call): StreamSink {
  return {
    write: (m) => call.write(toWatchResponse(m)),
    drained: (signal) =>
      new Promise<void>((resolve, reject) => {
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
      }),
  };
}
