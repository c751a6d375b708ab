/**
 * Stream limits and the server channel options we recommend. A watch stream is cheap but not free
 * (a slot, a timer, a socket): one replica caps them in total and per caller, so one noisy client
 * cannot take every stream of the replica. Beyond a cap the call gets RESOURCE_EXHAUSTED.
 */
import type { ServerUnaryCall } from '@grpc/grpc-js';
import { peerHost } from '../auth/gate';
import { ResourceExhaustedError } from '../errors';
import { defaultOf } from '../config/settings';

export interface StreamLimitOptions {
  /** Open WatchSecret streams per replica. @default setting SECRETS_GATEWAY_WATCH_MAX_STREAMS */
  maxStreams?: number;
  /** Open WatchSecret streams per caller (see `callerOf`). @default setting SECRETS_GATEWAY_WATCH_MAX_STREAMS_PER_CALLER */
  maxStreamsPerCaller?: number;
}

/** Who a call is for the per-caller stream limit, where the caller gate gives no identity. */
export type CallerOf = (call: Pick<ServerUnaryCall<unknown, unknown>, 'getPeer' | 'metadata'>) => string;

/** The peer's IP address, without the port: `1.2.3.4:5678` → `1.2.3.4`, `[::1]:5678` → `::1`. */
export const peerIp: CallerOf = (call) => {
  try {
    return peerHost(call.getPeer());
  } catch {
    return 'unknown';
  }
};

export class StreamLimits {
  private readonly perCaller = new Map<string, number>();
  private total = 0;
  readonly maxStreams: number;
  readonly maxStreamsPerCaller: number;

  constructor(opts: StreamLimitOptions = {}) {
    this.maxStreams = opts.maxStreams ?? defaultOf('SECRETS_GATEWAY_WATCH_MAX_STREAMS');
    this.maxStreamsPerCaller = opts.maxStreamsPerCaller ?? defaultOf('SECRETS_GATEWAY_WATCH_MAX_STREAMS_PER_CALLER');
  }

  /** Takes one stream slot for `caller`; returns its release (idempotent). Throws ResourceExhaustedError at a cap. */
  acquire(caller: string): () => void {
    if (this.total >= this.maxStreams) {
      throw new ResourceExhaustedError(`this replica serves its maximum of ${this.maxStreams} watch streams; retry with backoff`);
    }
    const n = this.perCaller.get(caller) ?? 0;
    if (n >= this.maxStreamsPerCaller) {
      throw new ResourceExhaustedError(`too many watch streams from this caller (limit ${this.maxStreamsPerCaller} per replica)`);
    }
    this.perCaller.set(caller, n + 1);
    this.total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const left = (this.perCaller.get(caller) ?? 1) - 1;
      if (left > 0) this.perCaller.set(caller, left);
      else this.perCaller.delete(caller);
    };
  }

  /** Open streams, in total and the number of distinct callers holding any. */
  counts(): { streams: number; callers: number } {
    return { streams: this.total, callers: this.perCaller.size };
  }
}

/**
 * Server channel options we recommend passing to `buildServer(…, { channelOptions })`.
 *
 * - keepalive 30 s / 10 s: finds dead peers (a pod gone without FIN) within ~40 s so their watch
 *   streams and limit slots are freed, and keeps idle streams alive through NAT/LB idle timers.
 * - max connection age 30 min + 30 s grace: long-lived watch connections are recycled with a
 *   GOAWAY, which spreads them over replicas added since (HPA scale-up); clients reconnect with
 *   `last_version_id` and miss nothing. The grace covers in-flight GetSecret calls.
 * - channelz off: the gateway serves no channelz service, and its per-call bookkeeping showed in
 *   the hot-path profile.
 * - messages: requests are a few hundred bytes, so 64 KiB is ample and caps abuse; responses carry
 *   one secret (KMS values are at most tens of KiB) plus metadata, so 4 MiB matches clients' default
 *   receive limit.
 */
export const RECOMMENDED_SERVER_OPTIONS: Readonly<Record<string, number>> = Object.freeze({
  'grpc.enable_channelz': 0,
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.max_connection_age_ms': 1_800_000,
  'grpc.max_connection_age_grace_ms': 30_000,
  'grpc.max_receive_message_length': 64 * 1024,
  'grpc.max_send_message_length': 4 * 1024 * 1024,
});
