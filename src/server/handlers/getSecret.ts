/**
 * GetSecret: validate, read through the cache with the call's signal, map to protobuf. No business
 * rules here: staleness and sources are the cache's, status codes are `status.ts`'s.
 */
import type { handleUnaryCall } from '@grpc/grpc-js';
import type { GetSecretRequest, GetSecretResponse } from '../../gen/secretsgateway/v1/secrets_gateway';
import type { Logger } from '../../telemetry/logger';
import type { SecretReader } from '../../watch/reader';
import { abortable } from '../../abort';
import { createCallContext } from '../callContext';
import { toServiceError } from '../status';
import { toGetSecretResponse } from '../toProto';
import { validateGetSecret } from '../validate';
import { logFailure } from './outcome';

export interface GetSecretDeps {
  reader: SecretReader;
  logger: Logger;
  /**
   * A request's max_staleness below this is raised to it, so no caller can force more than one KMS
   * refresh of a secret per interval (the cache's single-flight makes that one per cluster).
   * @default 0 (no floor)
   */
  minMaxStalenessMs?: number;
}

export function createGetSecretHandler(deps: GetSecretDeps): handleUnaryCall<GetSecretRequest, GetSecretResponse> {
  return (call, callback) => {
    const ctx = createCallContext(call);
    let log = deps.logger.child({ method: 'GetSecret', peer: ctx.peer });
    void (async () => {
      try {
        const { sel, maxStalenessMs } = validateGetSecret(call.request);
        log = log.child({ secretName: sel.name });
        const opts =
          maxStalenessMs === undefined ? { signal: ctx.signal } : { signal: ctx.signal, maxStalenessMs: Math.max(maxStalenessMs, deps.minMaxStalenessMs ?? 0) };
        // abortable: even a reader that ignores the signal cannot hold the handler past the client.
        const r = await abortable(deps.reader.get(sel, opts), ctx.signal);
        callback(null, toGetSecretResponse(r));
        log.debug('GetSecret answered', { source: r.freshness.source, durationMs: ctx.elapsedMs() });
      } catch (err) {
        logFailure(log, 'GetSecret', err, ctx.signal, ctx.elapsedMs());
        callback(toServiceError(err, ctx.signal));
      } finally {
        ctx.close();
      }
    })();
  };
}
