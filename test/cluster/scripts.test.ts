/** The coordination scripts against a real redis-server: acquiring a lock or lease is repeatable by its holder. */
import test from 'ava';
import { createRedisClient, waitForReady } from '../../src/cache';
import { foreignAbove, runScript } from '../../src/cluster/scripts';
import { startRedis } from '../helpers/redis';

test('sgAcquire: free → taken; asked again with the same token → still ours (a reply lost to a timeout); another token → refused', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const c = createRedisClient({ url: redis.url });
  t.teardown(() => c.disconnect());
  await waitForReady(c, { signal: AbortSignal.timeout(5_000) });
  const acquire = (token: string) => runScript(c, 'sgAcquire', ['t:{x}:lock'], [token, 10_000, foreignAbove(10_000)]);
  t.is(await acquire('a'), 1);
  t.is(await acquire('a'), 1);
  t.is(await acquire('b'), 0);
  t.is(await c.get('t:{x}:lock'), 'a');
});
