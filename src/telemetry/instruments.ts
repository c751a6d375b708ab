/**
 * The gateway's metrics. Labels are bounded sets (method, status code, cache source, KMS region
 * and outcome code); secret names, versions and values never become labels.
 */
import type { Counter, Histogram, Meter, UpDownCounter } from '@opentelemetry/api';

export interface GatewayInstruments {
  /** Finished RPCs, by `rpc.method` and `rpc.grpc.status_code`. */
  requests: Counter;
  /** RPC duration in ms, by `rpc.method` (WatchSecret: the stream's lifetime). */
  duration: Histogram;
  /** GetSecret answers by where they came from: LOCAL_CACHE, SHARED_CACHE, KMS, STALE. */
  cacheAnswers: Counter;
  /** KMS attempts by `kms.region` and `kms.outcome` (`OK` or the KMS/network code). */
  kmsAttempts: Counter;
  /** Open WatchSecret streams on this replica. */
  watchStreams: UpDownCounter;
}

export function createInstruments(meter: Meter): GatewayInstruments {
  return {
    requests: meter.createCounter('secretsgateway.rpc.requests', { description: 'Finished RPCs by method and gRPC status code' }),
    duration: meter.createHistogram('secretsgateway.rpc.duration', { description: 'RPC duration', unit: 'ms' }),
    cacheAnswers: meter.createCounter('secretsgateway.cache.answers', { description: 'GetSecret answers by source' }),
    kmsAttempts: meter.createCounter('secretsgateway.kms.attempts', { description: 'KMS GetSecretValue attempts by region and outcome' }),
    watchStreams: meter.createUpDownCounter('secretsgateway.watch.streams', { description: 'Open WatchSecret streams' }),
  };
}
