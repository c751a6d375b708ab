/**
 * Nothing readable leaks into Redis: after exercising every cache path (values, binary values,
 * several selectors, negative entries, evictions, a fill lock in flight, refresh-ahead leases, the
 * budget bucket, pub/sub events) a scan of every key and value, on a standalone redis-server and on
 * a 3-master Cluster, finds neither the sentinel secret values nor the secret names. Logs neither.
 */
import test from 'ava';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { RedisTokenBucket, SecretStore, RedisTier, keyRingFrom } from '../../src/cache';
import { AccessDeniedError, SecretNotFoundError } from '../../src/errors';
import { createLogger } from '../../src/telemetry/logger';
import { sleep } from '../../src/abort';
import { FakeSource, version } from '../helpers/fakeSource';
import { tierEnv, type TierKind } from './harness';

for (const kind of ['redis', 'cluster'] as TierKind[]) {
  test(`a scan of every Redis key and value finds no plaintext secret bytes and no secret names [${kind}]`, async (t) => {
    const env = await tierEnv(kind);
    t.teardown(() => env.stop());
    const tag = randomBytes(6).toString('hex');
    const NAME = `sentinelname${tag}`;
    const VALUE = `PLAINTEXT-SENTINEL-${tag}`;
    const BYTES = Buffer.concat([Buffer.from('BINSENTINEL'), randomBytes(24)]);
    const forbidden = [Buffer.from(NAME), Buffer.from(VALUE), Buffer.from(Buffer.from(VALUE).toString('base64')), BYTES, Buffer.from(BYTES.toString('base64'))];
    const leaks = (b: Buffer) => forbidden.some((f) => b.includes(f));

    // Pub/sub traffic, from a plain connection to one node (PUBLISH reaches every node in Cluster).
    const nodes = kind === 'cluster' ? (env.client as import('ioredis').Cluster).nodes('master') : [env.client as Redis];
    const spy = new Redis({ host: nodes[0].options.host, port: nodes[0].options.port });
    t.teardown(() => spy.disconnect());
    const messages: Buffer[] = [];
    spy.on('pmessageBuffer', (_p: Buffer, _c: Buffer, m: Buffer) => messages.push(m));
    await spy.psubscribe('*');

    const logLines: string[] = [];
    const logger = createLogger({ level: 'debug', sink: (l) => logLines.push(l) });
    let gate: (() => void) | undefined;
    const source = new FakeSource({
      latencyMs: 5,
      respond: async (sel, n) => {
        if (sel.name.endsWith('/missing')) return new SecretNotFoundError(`secret ${sel.name} not found`);
        if (sel.name.endsWith('/denied')) return new AccessDeniedError(`access to ${sel.name} denied`);
        if (sel.name.endsWith('/slow')) await new Promise<void>((r) => (gate = r));
        if (sel.name.endsWith('/bin')) return { ...version(sel.name, `v${n}`, ''), value: { kind: 'binary', bytes: BYTES } };
        return version(sel.name, sel.versionId ?? `v${n}`, `${VALUE}:${sel.versionStage ?? ''}:${n}`);
      },
    });
    const ring = keyRingFrom([{ id: 'k1', material: randomBytes(32) }]);
    const cache = { keyPrefix: 'scan', ttlMs: 1000, refreshAheadRatio: 0.5, l1TtlMs: 50, negativeTtlMs: 60_000, refreshLeaseMs: 5_000 };
    const stores = [0, 1].map(() => new SecretStore({ source, tier: new RedisTier(env.client!, 'scan'), keyRing: ring, config: cache, logger }));
    for (const s of stores) t.teardown(() => s.close());
    await Promise.all(stores.map((s) => s.ready()));
    const budget = new RedisTokenBucket(env.client!, { qps: 100, burst: 10, keyPrefix: 'scan' });

    const sels = [
      { name: `${NAME}/a` },
      { name: `${NAME}/a`, versionStage: 'ACSPrevious' },
      { name: `${NAME}/a`, versionId: 'v-pinned' },
      { name: `${NAME}/a`, fetchExtendedConfig: true, regionId: 'cn-shanghai' },
      { name: `${NAME}/bin` },
    ];
    for (const s of stores) for (const sel of sels) await s.get(sel);
    await t.throwsAsync(stores[0].get({ name: `${NAME}/missing` }), { instanceOf: SecretNotFoundError });
    await stores[0].get({ name: `${NAME}/doomed` });
    source.respond = async (sel, n) => (sel.name.endsWith('/doomed') ? new AccessDeniedError('denied') : version(sel.name, `v${n}`, VALUE));
    await t.throwsAsync(stores[1].refresh({ name: `${NAME}/doomed` }), { instanceOf: AccessDeniedError });
    source.respond = async (sel, n) => {
      if (sel.name.endsWith('/slow')) await new Promise<void>((r) => (gate = r));
      return version(sel.name, `v${n}`, `${VALUE}:${n}`);
    };
    await sleep(700); // refresh-ahead cycles (due at 450–500 ms) (leases, locks, fills) run meanwhile
    for (const s of stores) for (const sel of sels) await s.get(sel);

    // Mid-fill: the lock of a fill in flight is in Redis during the scan.
    const slow = stores[0].get({ name: `${NAME}/slow` });
    for (let i = 0; !gate && i < 3_000; i++) await sleep(5);
    if (!gate) return t.fail('the slow fill never started');
    // Just before the scan: an idle bucket expires once full again (about 1 s here).
    await budget.acquire('cn-hangzhou/kms.cn-hangzhou.aliyuncs.com');
    const dump = await env.dump();
    gate();
    await slow;

    const keysOf = (suffix: string) => dump.filter((d) => d.key.endsWith(suffix)).length;
    t.true(keysOf(':v') >= sels.length, 'sealed values were written');
    t.true(keysOf(':n') >= 1, 'a negative entry was written');
    t.true(keysOf(':lock') >= 1, 'a fill lock was in flight');
    t.true(dump.some((d) => d.key.includes(':budget:')), 'the budget bucket is there');
    t.true(messages.length > 0, 'events were published');
    t.log(`${kind}: scanned ${dump.length} keys (${dump.reduce((n, d) => n + d.value.length, 0)} bytes), ${messages.length} pub/sub messages, ${logLines.length} log lines`);

    t.deepEqual(dump.filter((d) => leaks(Buffer.from(d.key)) || d.key.includes('sentinel')).map((d) => d.key), [], 'no key name leaks');
    t.deepEqual(dump.filter((d) => leaks(d.value)).map((d) => d.key), [], 'no value leaks');
    t.deepEqual(messages.filter(leaks).map(String), [], 'no event leaks');
    t.deepEqual(logLines.filter((l) => l.includes(VALUE) || l.includes('BINSENTINEL')), [], 'no log line carries a value');
  });
}
