/**
 * Multi-replica scenarios, shared by the standalone-Redis and Redis Cluster test files: three
 * gateways (real gRPC servers, each with its own hub and Redis connections) over one Redis and
 * one fake cache, with per-replica L1 tiers that keep the old version until the feed drops it.
 */
import type { ExecutionContext } from 'ava';
import { selectorKey } from '../../src/model';
import type { WatchHubOptions } from '../../src/watch/hub';
import { FakeReader, version } from '../helpers/fakeReader';
import type { RedisCluster, RedisInstance } from '../helpers/redis';
import { keyedTagOf, redisBus, uniquePrefix } from '../helpers/redisWatch';
import { openWatch, startTestGateway, type TestGateway, type WatchRecorder } from '../helpers/watchGateway';

export const TIMING: Partial<WatchHubOptions> = { pollIntervalMs: 150, jitter: 0.2, rotationDelayMs: 20, leaseMs: 600, readTimeoutMs: 2000 };
/** The shortest gap a single poller leaves between two polls of one key. */
export const MIN_GAP_MS = TIMING.pollIntervalMs! * (1 - TIMING.jitter!);

export interface Cluster3 {
  reader: FakeReader;
  gateways: TestGateway[];
  prefix: string;
  tagOf: (k: string) => string;
  client: ReturnType<typeof redisBus>['client'];
}

export async function threeReplicas(t: ExecutionContext, target: RedisInstance | RedisCluster): Promise<Cluster3> {
  const reader = new FakeReader();
  reader.set(version('db', 'v1'));
  reader.set(version('api', 'a1'));
  const prefix = uniquePrefix();
  const tagOf = keyedTagOf();
  const gateways: TestGateway[] = [];
  let client: Cluster3['client'] | undefined;
  for (let i = 0; i < 3; i++) {
    const rb = redisBus(t, target, prefix, tagOf);
    client ??= rb.client;
    // Each replica has an L1 that would serve the old version for a minute, unless the feed drops it.
    const gw = await startTestGateway(t, { reader: reader.withL1(60_000), hub: { ...TIMING, bus: rb.bus, replicaId: `replica-${i}` }, service: { heartbeatMs: 200 } });
    gateways.push(gw);
  }
  return { reader, gateways, prefix, tagOf, client: client! };
}

/** `perReplica` watchers of `name` on each gateway, each past its first message. */
export async function spreadWatchers(t: ExecutionContext, c: Cluster3, name: string, perReplica: number): Promise<WatchRecorder[]> {
  const ws: WatchRecorder[] = [];
  for (const gw of c.gateways) for (let i = 0; i < perReplica; i++) ws.push(openWatch(t, gw.client, { name }));
  await Promise.all(ws.map((w) => w.nextSecret()));
  return ws;
}

export const leaseKeyOf = (c: Cluster3, name: string) => `${c.prefix}:w:{${c.tagOf(selectorKey({ name, versionStage: 'ACSCurrent' }))}}:lease`;
export const interestKeyOf = (c: Cluster3, name: string) => `${c.prefix}:w:{${c.tagOf(selectorKey({ name, versionStage: 'ACSCurrent' }))}}:int`;

/** Gaps between consecutive force-refresh reads of `name` since `sinceMs`. */
export function pollGaps(reader: FakeReader, name: string, sinceMs = 0): number[] {
  const at = reader.forceCallList(name).map((c) => c.atMs).filter((a) => a >= sinceMs);
  return at.slice(1).map((a, i) => a - at[i]!);
}
