/**
 * One scheduler per key: a secret that is both read hot (GetSecret, so the cache refreshes it
 * ahead) and watched (so the watch schedules it) on three replicas is asked of KMS about once per
 * cadence for the whole cluster, not once per cadence per mechanism or per replica: the cache's
 * refresher is the key's one scheduler (refresh-ahead or the watch cadence, whichever is due first),
 * and each due time finds any replica's check in the shared tier before taking the refresh lease.
 */
import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import type { WatchSecretResponse } from '../../src/gen/secretsgateway/v1/secrets_gateway';
import { FakeSource, version } from '../helpers/fakeSource';
import { startRedis } from '../helpers/redis';
import { startReplicas } from '../helpers/replicas';
import { delay, eventually } from '../helpers/watchGateway';

const NAME = 'app/hot';
const POLL_MS = 1000;
const TTL_MS = 1000; // the smallest SECRETS_GATEWAY_CACHE_TTL_MS accepts
/** The shortest cadence of either mechanism: refresh-ahead at 0.75 × TTL, polls at 0.9 × interval. */
const CADENCE_MS = Math.min(0.75 * TTL_MS, 0.9 * POLL_MS);

test('a hot, watched key on three replicas: about one KMS call per cadence, cluster-wide', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const source = new FakeSource({ respond: (sel) => version(sel.name, 'v1', 'value-v1') });
  const env = {
    SECRETS_GATEWAY_WATCH_POLL_INTERVAL_MS: String(POLL_MS),
    SECRETS_GATEWAY_WATCH_HEARTBEAT_MS: '200',
    // No forced-refresh floor: it would hide a second scheduler by answering its polls from the cache.
    SECRETS_GATEWAY_FORCED_REFRESH_MIN_INTERVAL_MS: '0',
  };
  // Refresh-ahead due before the poll: two schedulers would each ask KMS on their own cadence.
  const tuning = { ttlMs: TTL_MS, ttlJitterRatio: 0, refreshAheadRatio: 0.75, l1TtlMs: 100 };
  const { clients } = await startReplicas(t, { count: 3, redisUrl: redis.url, source, env, tuning, watchLeaseMs: 1800 });
  const streams = clients.map((c) => {
    const s = c.watchSecret({ name: NAME, versionStage: '', regionId: '', lastVersionId: '' });
    const got: WatchSecretResponse[] = [];
    s.on('data', (m: WatchSecretResponse) => got.push(m));
    s.on('error', () => undefined);
    t.teardown(() => s.cancel());
    return got;
  });
  await eventually(() => streams.every((g) => g.some((m) => m.secret)), 5000, 'both watches open');
  let reading = true;
  let reads = 0;
  const traffic = clients.map(async (c) => {
    while (reading) {
      await new Promise<void>((resolve) => c.getSecret({ name: NAME, versionStage: '', versionId: '', regionId: '', fetchExtendedConfig: false }, (err: grpc.ServiceError | null) => (err ? undefined : reads++, resolve())));
      await delay(20);
    }
  });
  t.teardown(async () => {
    reading = false;
    await Promise.all(traffic);
  });
  await delay(2 * POLL_MS); // refresh-ahead and polling both running
  const before = source.calls;
  const windowMs = 8 * POLL_MS;
  await delay(windowMs);
  const calls = source.calls - before;
  t.log(`${calls} KMS calls in ${windowMs / POLL_MS} poll intervals (${reads} GetSecret reads, 3 watchers on 3 replicas)`);
  // One scheduler: at most one call per cadence, plus one for a boundary. Refresh-ahead and the
  // poll each on its own cadence would make about 11 + 8.
  t.true(calls <= Math.ceil(windowMs / CADENCE_MS) + 1, `${calls} KMS calls in ${windowMs} ms (bound ${Math.ceil(windowMs / CADENCE_MS) + 1})`);
  t.true(calls >= 4, 'the key kept being checked');
});
