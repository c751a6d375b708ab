/**
 * A Redis writer cannot turn the gateway against itself. Two gateway replicas share a real
 * redis-server; the test then does what anyone with write access to that Redis could (replay an
 * old envelope, squat locks and leases, publish forged events, corrupt the budget) and checks the
 * property a caller relies on: no rotated-out version is served, no answer is older than its
 * max_staleness, streams are neither ended nor corrupted, KMS calls and Redis commands stay bounded,
 * and rotations still get through.
 */
import test, { type ExecutionContext } from 'ava';
import * as grpc from '@grpc/grpc-js';
import Redis from 'ioredis';
import { createRedisClient, keyRingFrom, RedisTokenBucket, waitForReady } from '../../src/cache';
import { entryKeys, KeyNamer } from '../../src/cache/keys';
import type { GetSecretResponse, SecretsGatewayServiceClient, WatchSecretResponse } from '../../src/gen/secretsgateway/v1/secrets_gateway';
import type { RunningGateway } from '../../src/main';
import { selectorKey } from '../../src/model';
import { FakeSource, version } from '../helpers/fakeSource';
import { startRedis, type RedisInstance } from '../helpers/redis';
import { startReplicas } from '../helpers/replicas';
import { eventually } from '../helpers/watchGateway';

const NAME = 'app/db';

interface Cluster {
  redis: RedisInstance;
  raw: Redis;
  gws: RunningGateway[];
  clients: SecretsGatewayServiceClient[];
  source: FakeSource;
  current: Map<string, string>;
  prefix: string;
  tag(name: string): string;
}

async function cluster(t: ExecutionContext, over: Record<string, string> = {}, tuning: Record<string, number> = {}): Promise<Cluster> {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const current = new Map<string, string>([[NAME, 'v1']]);
  const source = new FakeSource({ respond: (sel) => version(sel.name, current.get(sel.name) ?? 'v1', `value-${current.get(sel.name) ?? 'v1'}`) });
  const env = {
    SECRETS_GATEWAY_CACHE_L1_TTL_MS: '0',
    SECRETS_GATEWAY_FORCED_REFRESH_MIN_INTERVAL_MS: '0',
    SECRETS_GATEWAY_WATCH_POLL_INTERVAL_MS: '500',
    SECRETS_GATEWAY_WATCH_HEARTBEAT_MS: '200',
    ...over,
  };
  const { gws, clients, prefix, material } = await startReplicas(t, { count: 2, redisUrl: redis.url, source, env, tuning, watchLeaseMs: 900 });
  const raw = new Redis(redis.url);
  t.teardown(() => raw.disconnect());
  const namer = new KeyNamer(keyRingFrom([{ id: 'k1', material }]).namingKey, prefix);
  return { redis, raw, gws, clients, source, current, prefix, tag: (name) => namer.tag(selectorKey({ name })) };
}

function get(c: SecretsGatewayServiceClient, name: string, maxStalenessMs?: number): Promise<{ code: grpc.status; res?: GetSecretResponse }> {
  const req = {
    name,
    versionStage: '',
    versionId: '',
    regionId: '',
    fetchExtendedConfig: false,
    ...(maxStalenessMs === undefined ? {} : { maxStaleness: { seconds: Math.floor(maxStalenessMs / 1000), nanos: (maxStalenessMs % 1000) * 1e6 } }),
  };
  return new Promise((resolve) => c.getSecret(req, (err, res) => resolve(err ? { code: err.code } : { code: grpc.status.OK, res })));
}

const versionOf = async (c: SecretsGatewayServiceClient, maxStalenessMs?: number) => (await get(c, NAME, maxStalenessMs)).res?.secret?.versionId;

test('replaying the envelope of a rotated-out version: no replica serves it again', async (t) => {
  const k = await cluster(t);
  t.is(await versionOf(k.clients[0]!), 'v1');
  t.is(await versionOf(k.clients[1]!), 'v1');
  const value = entryKeys(k.prefix, k.tag(NAME)).value;
  const old = await k.raw.getBuffer(value);
  t.truthy(old, 'the sealed v1 envelope is in Redis');
  k.current.set(NAME, 'v2');
  t.is(await versionOf(k.clients[0]!, 0), 'v2', 'a forced read finds the rotation');
  await eventually(async () => (await versionOf(k.clients[1]!)) === 'v2', 5000, 'replica 1 to see v2');
  await k.raw.set(value, old!, 'PX', 600_000);
  for (let i = 0; i < 20; i++) {
    for (const c of k.clients) t.is(await versionOf(c), 'v2', 'never the replayed v1');
  }
});

test('a squatted fill lock, then garbage beside the old entry while a reader waits: the answer still honours max_staleness', async (t) => {
  const k = await cluster(t);
  t.is(await versionOf(k.clients[0]!), 'v1');
  const keys = entryKeys(k.prefix, k.tag(NAME));
  await new Promise((r) => setTimeout(r, 3000)); // the cached v1 is now 3 s old
  // A plausible lock (below 2 × the gateway's lease) that nobody will ever fill.
  await k.raw.set(keys.lock, 'squatter', 'PX', 2500);
  const asked = Date.now();
  const pending = get(k.clients[1]!, NAME, 1000);
  await new Promise((r) => setTimeout(r, 300));
  await k.raw.set(keys.negative, 'garbage', 'PX', 600_000); // the entry "changed" to the eye; what it holds is old
  const r = await pending;
  if (r.code === grpc.status.OK) {
    const checkedAt = Number(r.res!.freshness!.checkedAt!.getTime());
    t.true(checkedAt >= asked - 1000 - 1000, `checked_at ${asked - checkedAt} ms before the request, bound 1000 ms (+1 s skew)`);
  } else t.is(r.code, grpc.status.UNAVAILABLE);
});

test('forged events on the cluster channel neither end nor corrupt a stream, and cost at most a handful of KMS calls', async (t) => {
  const k = await cluster(t);
  const stream = k.clients[0]!.watchSecret({ name: NAME, versionStage: '', regionId: '', lastVersionId: '' });
  const got: WatchSecretResponse[] = [];
  let ended: grpc.ServiceError | undefined;
  stream.on('data', (m: WatchSecretResponse) => got.push(m));
  stream.on('error', (e: grpc.ServiceError) => (ended = e));
  t.teardown(() => stream.cancel());
  await eventually(() => got.some((m) => m.secret), 5000, 'the first message');
  await new Promise((r) => setTimeout(r, 1200));
  const callsBefore = k.source.calls;
  const tag = k.tag(NAME);
  const channel = `${k.prefix}:cache:events`;
  const b64 = (v: string) => Buffer.from(v).toString('base64url');
  const forged = [
    `e|${tag}|notFound|someone`,
    `f|${tag}|${b64('v9')}|8000000000000000|someone|`,
    `f|${tag}|${b64('v9')}|10000000000000000|someone|`,
    `a1|${Date.now()}|AAAA|e|${tag}|accessDenied|someone`,
  ];
  for (const m of forged) await k.raw.publish(channel, m);
  for (let i = 0; i < 100; i++) await k.raw.publish(channel, `f|${tag}|${b64(`v${i}`)}|${Date.now()}|someone|`);
  for (let i = 0; i < 20; i++) await k.raw.publish(channel, `e|${tag}|notFound|someone`);
  await new Promise((r) => setTimeout(r, 1500));
  t.is(ended, undefined, 'the stream is still open');
  const heartbeats = got.filter((m) => m.heartbeat);
  t.true(heartbeats.length > 0);
  for (const h of heartbeats) t.true(h.freshness!.checkedAt!.getTime() <= Date.now() + 5000, "no heartbeat from the future");
  t.true(got.filter((m) => m.secret).every((m) => m.secret!.versionId === 'v1'), 'no forged version reached the stream');
  const calls = k.source.calls - callsBefore;
  t.log(`${calls} KMS calls during 124 forged messages`);
  t.true(calls <= 6, `${calls} KMS calls during 124 forged messages (polling alone makes ~3)`);
  t.is(await versionOf(k.clients[1]!), 'v1', 'the secret still reads');
});

test('a squatted poll lease (no expiry) is taken over; one refreshed with a plausible TTL is noticed: the rotation gets through', async (t) => {
  const k = await cluster(t);
  const lease = `${k.prefix}:w:{${k.tag(NAME)}}:lease`;
  await k.raw.set(lease, 'squatter'); // no expiry: the gateway never sets one
  const stream = k.clients[0]!.watchSecret({ name: NAME, versionStage: '', regionId: '', lastVersionId: '' });
  const versions: string[] = [];
  stream.on('data', (m: WatchSecretResponse) => m.secret && versions.push(m.secret.versionId));
  stream.on('error', () => undefined);
  t.teardown(() => stream.cancel());
  await eventually(() => versions.includes('v1'), 5000, 'v1');
  k.current.set(NAME, 'v2');
  await eventually(() => versions.includes('v2'), 10_000, 'v2 despite the squatted lease');
  // Now a squatter that keeps a plausible lease (under 2 × 900 ms) forever and never polls.
  let squatting = true;
  const squat = (async () => {
    while (squatting) {
      await k.raw.set(lease, 'squatter', 'PX', 1500);
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  t.teardown(async () => {
    squatting = false;
    await squat;
  });
  await new Promise((r) => setTimeout(r, 1000));
  k.current.set(NAME, 'v3');
  await eventually(() => versions.includes('v3'), 15_000, 'v3 despite a lease renewed by a squatter');
  t.true(versions.indexOf('v3') > versions.indexOf('v2'));
});

test('a tampered budget bucket costs no hang and no busy loop', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const client = createRedisClient({ url: redis.url }, { commandTimeoutMs: 1000 });
  t.teardown(() => client.disconnect());
  await waitForReady(client, { signal: AbortSignal.timeout(5000) });
  const budget = new RedisTokenBucket(client, { qps: 50, burst: 5, keyPrefix: 'bt', maxWaitMs: 2000 });
  const raw = new Redis(redis.url);
  t.teardown(() => raw.disconnect());
  await budget.acquire('target-1'); // creates the bucket
  const key = (await raw.keys('bt:budget:*'))[0]!;
  const commands = async () => Number(/cmdstat_evalsha:calls=(\d+)/.exec(await raw.info('commandstats'))?.[1] ?? 0) + Number(/cmdstat_eval:calls=(\d+)/.exec(await raw.info('commandstats'))?.[1] ?? 0);
  for (const fields of [['tokens', '-1e15', 'at', '9e15'], ['tokens', 'nan', 'at', 'x'], ['tokens', '1e300', 'at', '-5']]) {
    await raw.hset(key, ...fields);
    const before = await commands();
    await budget.acquire('target-1', AbortSignal.timeout(5000));
    const used = (await commands()) - before;
    t.true(used <= 2, `${fields.join(' ')}: a token after ${used} script call(s)`);
  }
});

test('each replica listens on one subscriber connection, to the one cluster channel', async (t) => {
  const k = await cluster(t);
  const stream = k.clients[0]!.watchSecret({ name: NAME, versionStage: '', regionId: '', lastVersionId: '' });
  stream.on('data', () => undefined);
  stream.on('error', () => undefined);
  t.teardown(() => stream.cancel());
  await eventually(async () => (await versionOf(k.clients[1]!)) === 'v1', 5000, 'reads');
  const subscribers = async () =>
    (await k.raw.client('LIST') as string)
      .split('\n')
      .filter((l) => /\bsub=[1-9]/.test(l) || /flags=\S*P/.test(l)).length;
  await eventually(async () => (await subscribers()) === 2, 5000, 'both replicas subscribed');
  t.is(await subscribers(), 2, 'two replicas, one subscriber connection each');
  const channels = (await k.raw.pubsub('CHANNELS', `${k.prefix}:*`)) as string[];
  t.deepEqual(channels, [`${k.prefix}:cache:events`], 'one change feed: the watch has no channel of its own');
});

test('a fill lock kept held by a squatter (renewed, plausible TTL): reads and rotations still get through after two leases', async (t) => {
  const k = await cluster(t, {}, { lockLeaseMs: 1000 });
  t.is(await versionOf(k.clients[0]!), 'v1');
  const lock = entryKeys(k.prefix, k.tag(NAME)).lock;
  let squatting = true;
  const squat = (async () => {
    while (squatting) {
      await k.raw.set(lock, 'squatter', 'PX', 1500); // under 2 × the 1 s lease: looks like ours
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  t.teardown(async () => {
    squatting = false;
    await squat;
  });
  const stream = k.clients[1]!.watchSecret({ name: NAME, versionStage: '', regionId: '', lastVersionId: '' });
  const versions: string[] = [];
  stream.on('data', (m: WatchSecretResponse) => m.secret && versions.push(m.secret.versionId));
  stream.on('error', () => undefined);
  t.teardown(() => stream.cancel());
  await eventually(() => versions.includes('v1'), 10_000, 'v1');
  k.current.set(NAME, 'v2');
  const forced = await get(k.clients[0]!, NAME, 0);
  t.is(forced.code, grpc.status.OK);
  t.is(forced.res?.secret?.versionId, 'v2', 'a forced read is answered from KMS once the lock has stayed held for two leases');
  await eventually(() => versions.includes('v2'), 15_000, 'the rotation to reach the watcher');
});
