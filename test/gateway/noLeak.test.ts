/**
 * Secrets never leak, end to end: the dev gateway on a real redis-server, logging at debug level,
 * driven through every path (reads by stage and id, binary, NOT_FOUND, INVALID_ARGUMENT, KMS
 * failure with a STALE answer, rotation pushed to a watch). Afterwards no secret value, AccessKey
 * secret, seal key or STS token may appear in any log line, and no Redis key or value may hold a
 * value or a secret name, in clear or in base64.
 */
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import test from 'ava';
import Redis from 'ioredis';
import { newKeySpec } from '../../src/cache';
import { Freshness_Source, type GetSecretRequest, type GetSecretResponse } from '../../src/gen/secretsgateway/v1/secrets_gateway';
import { createLogger } from '../../src/telemetry/logger';
import { rotate, startDevGateway, TEXT } from '../helpers/conformance';
import { gatewayClient } from '../helpers/grpc';
import { startRedis } from '../helpers/redis';

test('no value, credential or seal key in logs (debug level) or in Redis, over every path', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const sealKeys = newKeySpec('leak');
  const lines: string[] = [];
  const dev = await startDevGateway(
    t,
    { SECRETS_GATEWAY_REDIS_URL: redis.url, SECRETS_GATEWAY_CACHE_SEAL_KEYS: sealKeys, SECRETS_GATEWAY_CACHE_TTL_MS: '1000', SECRETS_GATEWAY_CACHE_L1_TTL_MS: '100' },
    createLogger({ level: 'debug', sink: (l) => lines.push(l) }),
  );
  const client = gatewayClient(dev.gateway.port);
  t.teardown(() => client.close());
  const get = (name: string, more: Partial<GetSecretRequest> = {}) =>
    new Promise<GetSecretResponse | ServiceError>((resolve) =>
      client.getSecret({ name, versionStage: '', versionId: '', regionId: '', fetchExtendedConfig: false, ...more }, new Metadata(), { deadline: Date.now() + 10_000 }, (e, r) => resolve(e ?? r!)),
    );

  const names = ['demo/db-password', 'demo/tls-key', 'demo/api-config', 'demo/rds-app'];
  for (const n of names) await get(n, { fetchExtendedConfig: true });
  await get(TEXT, { versionStage: 'ACSPrevious' });
  await get(TEXT, { versionId: 'v1' });
  await get('demo/missing');
  await get('bad name!');
  // A watch sees a rotation; then KMS fails and a STALE value is served.
  const stream = client.watchSecret({ name: TEXT, versionStage: '', regionId: '', lastVersionId: '' }, new Metadata());
  stream.on('error', () => undefined);
  const versions: string[] = [];
  stream.on('data', (m: { secret?: { versionId: string } }) => m.secret && versions.push(m.secret.versionId));
  while (versions.length === 0) await new Promise((r) => setTimeout(r, 20));
  const v3 = await rotate(dev, TEXT);
  while (!versions.includes(v3)) await new Promise((r) => setTimeout(r, 20));
  stream.cancel();
  for (const region of Object.keys(dev.emulator!.regions)) dev.emulator!.faults.set(region, { errorCode: 'ServiceUnavailableTemporary', httpStatus: 503, rate: 1 });
  await new Promise((r) => setTimeout(r, 1200)); // past the TTL
  // A caller that refuses anything older than 0 s gets UNAVAILABLE, not a stale value…
  const strict = (await get(TEXT, { maxStaleness: { seconds: 0, nanos: 0 } })) as ServiceError;
  t.is(strict.code, status.UNAVAILABLE);
  // …while the default policy answers the cached value, marked STALE.
  const stale = (await get(TEXT)) as GetSecretResponse;
  t.is(stale.freshness?.source, Freshness_Source.SOURCE_STALE);
  t.is(stale.secret?.versionId, v3);

  // Everything that must never be readable.
  const store = dev.emulator!.store;
  const values = names.flatMap((n) => store.listSecretVersionIds(n, { includeDeprecated: true }).map((v) => store.getSecretValue(n, { versionId: v.versionId }).data));
  const forbidden = [...values, 'dev-secret-not-for-production', sealKeys.split(':')[1]!];
  const encodings = (s: string) => [s, Buffer.from(s).toString('base64'), encodeURIComponent(s)].filter((x) => x.length >= 6);

  const logText = lines.join('\n');
  t.true(lines.length > 10, `the gateway logged (${lines.length} lines)`);
  for (const f of forbidden) for (const e of encodings(f)) t.false(logText.includes(e), `log contains ${JSON.stringify(e.slice(0, 12))}…`);

  const r = new Redis(redis.url);
  t.teardown(() => r.disconnect());
  const keys = await r.keys('*');
  t.true(keys.length > 0, 'the shared tier was used');
  const dump: string[] = [...keys];
  for (const k of keys) {
    const type = await r.type(k);
    if (type === 'string') dump.push((await r.getBuffer(k))!.toString('latin1'));
    else if (type === 'hash') dump.push(JSON.stringify(await r.hgetall(k)));
    else if (type === 'zset') dump.push(JSON.stringify(await r.zrange(k, 0, -1, 'WITHSCORES')));
    else if (type === 'set') dump.push(JSON.stringify(await r.smembers(k)));
  }
  const redisText = dump.join('\n');
  for (const f of [...forbidden, ...names]) for (const e of encodings(f)) t.false(redisText.includes(e), `Redis holds ${JSON.stringify(e.slice(0, 12))}…`);
});
