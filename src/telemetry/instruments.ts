/**
 * The gateway's metrics. Labels are bounded sets (method, status code, cache source, KMS target
 * id from the config, action and outcome code, decision and reason); secret names, versions,
 * values and caller identities never become labels. README "Metrics" says what each one answers.
 */
import type { Attributes, Counter, Histogram, Meter, ObservableResult, UpDownCounter } from '@opentelemetry/api';
import { Tally } from './tally';

export interface GatewayInstruments {
  /** Finished RPCs, by `rpc.method` and `rpc.grpc.status_code`. */
  requests: Tally;
  /** RPC duration in ms, by `rpc.method` (WatchSecret: the stream's lifetime). */
  duration: Histogram;
  /** GetSecret answers sent from protobuf bytes encoded for an earlier call (the L1 hot path encodes nothing). */
  preencodedAnswers: Tally;
  /** GetSecret answers by tier: LOCAL_CACHE, SHARED_CACHE, KMS, STALE (stale answers are `source=STALE`). */
  cacheAnswers: Tally;
  /** KMS attempts by `kms.target`, `kms.region`, `kms.action` and `kms.outcome` (`OK` or the KMS/network code). */
  kmsAttempts: Counter;
  /** Open WatchSecret streams on this replica. */
  watchStreams: UpDownCounter;
  /** Rotation detection (the KMS check that found the version) to the write on a stream, in ms. */
  pushLatency: Histogram;
  /** Access decisions by `rpc.method`, `decision` (allow, deny) and `reason` (ok, unauthenticated, policy, rate_limited). */
  authzDecisions: Tally;
  /** Calls refused by a per-caller rate limit, by `rpc.method`. */
  rateLimited: Tally;
  /** Coordination messages dropped as not authentic or not recent (cluster/messageAuth.ts). */
  rejectedMessages: Counter;
}

export function createInstruments(meter: Meter): GatewayInstruments {
  return {
    requests: new Tally(meter, 'secretsgateway.rpc.requests', 'Finished RPCs by method and gRPC status code'),
    duration: meter.createHistogram('secretsgateway.rpc.duration', { description: 'RPC duration', unit: 'ms' }),
    preencodedAnswers: new Tally(meter, 'secretsgateway.rpc.preencoded_answers', 'GetSecret answers sent from protobuf bytes encoded for an earlier call'),
    cacheAnswers: new Tally(meter, 'secretsgateway.cache.answers', 'GetSecret answers by tier (LOCAL_CACHE, SHARED_CACHE, KMS, STALE)'),
    kmsAttempts: meter.createCounter('secretsgateway.kms.attempts', { description: 'KMS attempts by target, action and outcome' }),
    watchStreams: meter.createUpDownCounter('secretsgateway.watch.streams', { description: 'Open WatchSecret streams' }),
    pushLatency: meter.createHistogram('secretsgateway.watch.push_latency', {
      description: 'Rotation detected (KMS check) to the new version written on a watch stream',
      unit: 'ms',
      advice: { explicitBucketBoundaries: [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000] },
    }),
    authzDecisions: new Tally(meter, 'secretsgateway.authz.decisions', 'Access decisions by method, decision and reason'),
    rateLimited: new Tally(meter, 'secretsgateway.authz.rate_limited', 'Calls refused by a per-caller rate limit'),
    rejectedMessages: meter.createCounter('secretsgateway.cluster.rejected_messages', { description: 'Coordination messages dropped as not authentic or not recent, by channel and reason (format, mac, expired, future)' }),
  };
}

/** Breaker states as gauge values: 0 closed, 1 half-open (probing), 2 open. */
export const BREAKER_VALUE: Record<string, number> = { closed: 0, 'half-open': 1, probing: 1, open: 2, ejected: 2 };

/** The state the observable instruments read at each collection. Each function is cheap and synchronous unless noted. */
export interface ObservedState {
  /** Reads that joined a fill already running in this process (cumulative). */
  coalescedReads(): number;
  /** The shared tier's (Redis) breaker. */
  sharedTierBreaker(): string;
  /** Each KMS target's id and breaker state. */
  kmsTargets(): { id: string; state: string }[];
  /** Tokens left in each target's KMS budget bucket; may be async (the bucket lives in Redis). */
  budgetTokens?(): Promise<{ id: string; tokens: number }[]> | { id: string; tokens: number }[];
  /** Rotations this replica's detector found (cumulative). */
  rotationsDetected(): number;
  /** Keys this replica polls for the cluster, and of those, polled locally because Redis is down. */
  pollingKeys(): { polling: number; degraded: number };
  /** 1 ready, 0 not (server/readiness.ts). */
  ready(): number;
}

/** Registers the observable instruments; returns the function that unregisters them. */
export function observeGateway(meter: Meter, s: ObservedState): () => void {
  const coalesced = meter.createObservableCounter('secretsgateway.cache.coalesced_reads', { description: 'Reads that joined a fill already in flight in this process (single-flight)' });
  const sharedBreaker = meter.createObservableGauge('secretsgateway.cache.shared_tier_breaker', { description: 'Shared tier (Redis) breaker: 0 closed, 1 half-open, 2 open' });
  const kmsBreaker = meter.createObservableGauge('secretsgateway.kms.breaker_state', { description: 'KMS target breaker: 0 closed, 1 half-open, 2 open (ejected)' });
  const budget = meter.createObservableGauge('secretsgateway.kms.budget_tokens', { description: 'Tokens left in the KMS request budget bucket, per target' });
  const rotations = meter.createObservableCounter('secretsgateway.watch.rotations_detected', { description: 'New versions found by this replica\'s watch polls' });
  const polling = meter.createObservableGauge('secretsgateway.watch.polling_keys', { description: 'Watched keys this replica polls for the cluster (mode=leased) or alone because Redis is down (mode=degraded)' });
  const ready = meter.createObservableGauge('secretsgateway.ready', { description: '1 when this replica can serve (readiness), else 0' });

  const observe = <T>(r: ObservableResult<Attributes>, v: number, attrs?: T) => r.observe(v, attrs as Attributes | undefined);
  const cbs: [{ addCallback(cb: (r: ObservableResult<Attributes>) => void | Promise<void>): void; removeCallback(cb: (r: ObservableResult<Attributes>) => void | Promise<void>): void }, (r: ObservableResult<Attributes>) => void | Promise<void>][] = [
    [coalesced, (r) => observe(r, s.coalescedReads())],
    [sharedBreaker, (r) => observe(r, BREAKER_VALUE[s.sharedTierBreaker()] ?? 0)],
    [kmsBreaker, (r) => s.kmsTargets().forEach((t) => observe(r, BREAKER_VALUE[t.state] ?? 0, { 'kms.target': t.id }))],
    [rotations, (r) => observe(r, s.rotationsDetected())],
    [
      polling,
      (r) => {
        const p = s.pollingKeys();
        observe(r, p.polling - p.degraded, { mode: 'leased' });
        observe(r, p.degraded, { mode: 'degraded' });
      },
    ],
    [ready, (r) => observe(r, s.ready())],
  ];
  if (s.budgetTokens) {
    const read = s.budgetTokens;
    cbs.push([budget, async (r) => (await read()).forEach((b) => observe(r, b.tokens, { 'kms.target': b.id }))]);
  }
  for (const [inst, cb] of cbs) inst.addCallback(cb);
  return () => {
    for (const [inst, cb] of cbs) inst.removeCallback(cb);
  };
}
