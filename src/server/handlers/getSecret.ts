/**
 * GetSecret: authenticate, validate, limit, authorize, read through the cache with the call's
 * signal, audit, map to protobuf. No business rules here: staleness and sources are the cache's,
 * who may read what is the policy's, status codes are `status.ts`'s.
 */
import type { handleUnaryCall } from '@grpc/grpc-js';
import type { GetSecretRequest, GetSecretResponse } from '../../gen/secretsgateway/v1/secrets_gateway';
import type { SecretSelector } from '../../model';
import type { Logger } from '../../telemetry/logger';
import type { ReadResult, SecretReader } from '../../watch/reader';
import type { Caller } from '../../auth/gate';
import { abortable } from '../../abort';
import { createCallContext } from '../callContext';
import { noteValidatedName } from '../instrument';
import { toServiceError } from '../status';
import { toGetSecretResponse } from '../toProto';
import { validateGetSecret } from '../validate';
import { audit, type AccessDeps } from './access';
import { logFailure } from './outcome';

export interface GetSecretDeps {
  reader: SecretReader;
  logger: Logger;
  access: AccessDeps;
}

export function createGetSecretHandler(deps: GetSecretDeps): handleUnaryCall<GetSecretRequest, GetSecretResponse> {
  const { access } = deps;
  return (call, callback) => {
    const ctx = createCallContext(call);
    let log = deps.logger.child({ method: 'GetSecret', peer: ctx.peer });
    void (async () => {
      let caller: Caller | undefined;
      let sel: SecretSelector | undefined;
      let r: ReadResult | undefined;
      try {
        caller = await access.gate.authenticate(call);
        const req = validateGetSecret(call.request);
        sel = req.sel;
        noteValidatedName(call, sel.name);
        log = log.child({ secretName: sel.name, ...(caller.identity ? { caller: caller.identity } : {}) });
        const key = caller.limitKey;
        access.rateLimits?.takeGetSecret(key);
        // Before the cache: a denied caller learns nothing about whether the secret exists or is cached.
        access.gate.authorize(caller, sel);
        // The cache raises a max_staleness below its forced-refresh floor (a cache policy, not ours).
        const { maxStalenessMs } = req;
        const opts = {
          signal: ctx.signal,
          ...(maxStalenessMs === undefined ? {} : { maxStalenessMs }),
          ...(access.rateLimits ? { admitMiss: () => access.rateLimits!.takeMiss(key) } : {}),
        };
        // abortable: even a reader that ignores the signal cannot hold the handler past the client.
        r = await abortable(deps.reader.get(sel, opts), ctx.signal);
        const served = { versionId: r.secret.versionId, source: r.freshness.source };
        await audit(access, { method: 'GetSecret', caller, peer: ctx.peer, sel, served, clientSignal: ctx.signal, metadata: call.metadata });
        callback(null, toGetSecretResponse(r));
        log.debug('GetSecret answered', { source: r.freshness.source, durationMs: ctx.elapsedMs() });
      } catch (err) {
        let failure = err;
        if (!r) {
          // A value that was read but could not be audited is never sent; the failure itself is audited.
          await audit(access, { method: 'GetSecret', caller, peer: ctx.peer, sel, err, clientSignal: ctx.signal, metadata: call.metadata }).catch((e: unknown) => (failure = e));
        }
        logFailure(log, 'GetSecret', failure, ctx.signal, ctx.elapsedMs());
        callback(toServiceError(failure, ctx.signal));
      } finally {
        ctx.close();
      }
    })();
  };
}
