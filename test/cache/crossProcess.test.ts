/**
 * Cluster-wide single-flight across real processes: three replicas (separate Node processes) share
 * one Redis (standalone, then a 3-master Cluster) and read through a counting loopback HTTP source.
 */
import test from 'ava';
import { newKeySpec, type CacheConfig, type RedisTarget } from '../../src/cache';
import { startRedis, startRedisCluster } from '../helpers/redis';
import { startReplica, type Replica, type ReadReport, type ReplicaEnv } from '../helpers/replicaProcess';
import { startSecretServer } from '../helpers/secretServer';
import { version } from '../helpers/fakeSource';
import { sleep } from '../../src/abort';
import { kmsConfig, startEmulator } from '../helpers/kms';

const READS = 1000;
const REPLICAS = 3;

function cacheConfig(prefix: string): Partial<CacheConfig> {
  return { keyPrefix: prefix, lockLeaseMs: 1000, fillPollMs: 100, ttlMs: 60_000, l1TtlMs: 10_000, refreshAheadRatio: 0 };
}

async function replicas(t: import('ava').ExecutionContext, redis: RedisTarget, source: Pick<ReplicaEnv, 'sourceUrl' | 'kms'>, prefix: string): Promise<Replica[]> {
  const keySpec = newKeySpec('k1');
  const out = await Promise.all(Array.from({ length: REPLICAS }, (_, i) => startReplica({ id: `r${i}`, redis, keySpec, cache: cacheConfig(prefix), ...source })));
  for (const r of out) t.teardown(() => r.kill());
  return out;
}

function share(i: number): number {
  return Math.floor(READS / REPLICAS) + (i < READS % REPLICAS ? 1 : 0);
}

function assertIdle(t: import('ava').ExecutionContext, r: ReadReport, who: string) {
  const s = r.stats;
  t.deepEqual([s.inFlight, s.waiters, s.pendingFillWaiters, s.heldLocks], [0, 0, 0, 0], `${who}: nothing left waiting`);
}

/** Where the replicas' KMS reads go, and how many reached it. */
interface ColdSource {
  env: Pick<ReplicaEnv, 'sourceUrl' | 'kms'>;
  name: string;
  versionId: string;
  calls(): number;
}

/** A counting loopback HTTP source, slow enough that every replica's reads pile up behind the one fetch. */
async function httpSource(t: import('ava').ExecutionContext): Promise<ColdSource> {
  const server = await startSecretServer(async (req) => {
    await sleep(150);
    return { status: 200, secret: version(req.sel.name, 'v-1', 'cold-read-value') };
  });
  t.teardown(() => server.close());
  return { env: { sourceUrl: server.url }, name: 'cold/secret', versionId: 'v-1', calls: () => server.requests.length };
}

/** The real KMS client in every process, against the emulator, which counts GetSecretValue. */
async function emulatorSource(t: import('ava').ExecutionContext): Promise<ColdSource> {
  const emu = await startEmulator(t, { seed: { secrets: [{ name: 'cold/kms', versions: [{ versionId: 'v1', stages: ['ACSCurrent'], text: 'SENTINEL-cold-kms' }] }] } });
  emu.faults.set('cn-hangzhou', { latencyMs: 150 });
  return { env: { kms: kmsConfig(emu) }, name: 'cold/kms', versionId: 'v1', calls: () => emu.counters().GetSecretValue ?? 0 };
}

async function coldReads(t: import('ava').ExecutionContext, redis: RedisTarget, prefix: string, source: ColdSource) {
  const reps = await replicas(t, redis, source.env, prefix);
  const reports = await Promise.all(reps.map((r, i) => r.read({ name: source.name }, share(i))));

  t.is(source.calls(), 1, 'exactly one KMS call for the whole cluster');
  const served = reports.reduce((n, r) => n + Object.values(r.sources).reduce((a, b) => a + b, 0), 0);
  t.is(served, READS);
  t.deepEqual(reports.flatMap((r) => r.errors), []);
  t.deepEqual([...new Set(reports.flatMap((r) => r.versions))], [source.versionId]);
  t.log('KMS calls observed:', source.calls(), 'sources:', JSON.stringify(reports.map((r) => r.sources)));
  reports.forEach((r, i) => assertIdle(t, r, `replica ${i}`));
  for (const r of reps) {
    const closed = await r.close();
    t.is(closed.exitCode, 0, `${r.id} exits by itself after close()`);
  }
}

test.serial('1,000 cold reads from 3 processes on one redis-server cause exactly 1 source call', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  await coldReads(t, { url: redis.url }, 'xp1', await httpSource(t));
});

test.serial('1,000 cold reads from 3 processes on a 3-master Redis Cluster cause exactly 1 source call', async (t) => {
  const cluster = await startRedisCluster(3);
  t.teardown(() => cluster.stop());
  await coldReads(t, { clusterNodes: cluster.nodes }, 'xp2', await httpSource(t));
});

test.serial('real KMS client: 1,000 cold reads from 3 processes on one redis-server cause exactly 1 emulator call', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  await coldReads(t, { url: redis.url }, 'xk1', await emulatorSource(t));
});

test.serial('real KMS client: 1,000 cold reads from 3 processes on a 3-master Redis Cluster cause exactly 1 emulator call', async (t) => {
  const cluster = await startRedisCluster(3);
  t.teardown(() => cluster.stop());
  await coldReads(t, { clusterNodes: cluster.nodes }, 'xk2', await emulatorSource(t));
});

test.serial('SIGKILL of the lock holder mid-fetch: a follower takes over, everyone gets one value, nobody is stuck', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  let holder: Promise<string> | undefined;
  let resolveHolder!: (w: string) => void;
  holder = new Promise((r) => (resolveHolder = r));
  const server = await startSecretServer((req) => {
    if (req.n === 1) {
      resolveHolder(req.worker);
      return 'hold'; // the holder's source call never returns: it dies with it
    }
    return { status: 200, secret: version(req.sel.name, 'v-after-takeover', 'takeover-value') };
  });
  t.teardown(() => server.close());
  const reps = await replicas(t, { url: redis.url }, { sourceUrl: server.url }, 'xp3');
  const sel = { name: 'crash/secret' };
  const reads = reps.map((r) => r.read(sel, 100).catch((e: Error) => e));
  const victimId = await holder;
  const victim = reps.find((r) => r.id === victimId)!;
  victim.kill();
  t.is((await victim.exited).signal, 'SIGKILL');

  const survivors = reps.filter((r) => r !== victim);
  const reports = (await Promise.all(reads.filter((_, i) => reps[i] !== victim))) as ReadReport[];
  t.is(server.requests.length, 2, 'the killed holder’s call, then exactly one takeover');
  t.is(server.requests[0].worker, victimId);
  t.deepEqual(reports.flatMap((r) => r.errors), []);
  t.deepEqual([...new Set(reports.flatMap((r) => r.versions))], ['v-after-takeover']);
  reports.forEach((r, i) => {
    assertIdle(t, r, survivors[i].id);
    t.is(Object.values(r.sources).reduce((a, b) => a + b, 0), 100);
  });
  for (const r of survivors) t.is((await r.close()).exitCode, 0);
});
