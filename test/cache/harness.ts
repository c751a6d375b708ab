/**
 * Shared set-up for the cache tests: a tier of each kind (in-memory, real standalone redis-server,
 * real 3-master Cluster), stores built on it with a fake clock, and raw access to what the tier
 * holds (to check evictions and scan for plaintext).
 */
import type { ExecutionContext } from 'ava';
import { Cluster } from 'ioredis';
import Redis from 'ioredis';
import { MemoryBackend, MemoryTier, RedisTier, SecretStore, createRedisClient, keyRingFrom, waitForReady, type CacheConfig, type KeyRing, type RedisClient, type SharedTier } from '../../src/cache';
import { KeyNamer, entryKeys } from '../../src/cache/keys';
import { selectorKey, type SecretSelector } from '../../src/model';
import { startRedis, startRedisCluster } from '../helpers/redis';
import type { FakeSource } from '../helpers/fakeSource';
import { randomBytes } from 'node:crypto';

export type TierKind = 'memory' | 'redis' | 'cluster';

export interface TierEnv {
  kind: TierKind;
  tier(prefix: string): SharedTier;
  /** Raw GET of one key (null when absent). */
  raw(key: string): Promise<string | null>;
  /** Every key (and its raw bytes) under `prefix`. */
  dump(prefix?: string): Promise<{ key: string; value: Buffer }[]>;
  client?: RedisClient;
  stop(): Promise<void>;
}

export async function tierEnv(kind: TierKind): Promise<TierEnv> {
  if (kind === 'memory') {
    const backend = new MemoryBackend();
    return {
      kind,
      tier: (prefix) => new MemoryTier(backend, prefix),
      raw: async (key) => backend.get(key),
      dump: async (prefix = '') => backend.keys().filter((k) => k.startsWith(prefix)).map((key) => ({ key, value: Buffer.from(backend.get(key) ?? '') })),
      stop: async () => {},
    };
  }
  let client: RedisClient;
  let stopServer: () => Promise<void>;
  let masters: () => Redis[];
  if (kind === 'redis') {
    const r = await startRedis();
    client = createRedisClient({ url: r.url }, { commandTimeoutMs: 2000 });
    masters = () => [client as Redis];
    stopServer = () => r.stop();
  } else {
    const c = await startRedisCluster(3);
    client = createRedisClient({ clusterNodes: c.nodes }, { commandTimeoutMs: 2000 });
    masters = () => (client as Cluster).nodes('master');
    stopServer = () => c.stop();
  }
  await waitForReady(client, { signal: AbortSignal.timeout(15_000) });
  return {
    kind,
    client,
    tier: (prefix) => new RedisTier(client, prefix),
    raw: (key) => client.get(key),
    dump: (prefix = '') => dumpRedis(masters(), prefix),
    stop: async () => {
      client.disconnect();
      await stopServer();
    },
  };
}

/** SCANs every master and reads every key's bytes (strings and hashes). */
export async function dumpRedis(nodes: Redis[], prefix = ''): Promise<{ key: string; value: Buffer }[]> {
  const out: { key: string; value: Buffer }[] = [];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const type = await node.type(key);
        if (type === 'string') out.push({ key, value: (await node.getBuffer(key)) ?? Buffer.alloc(0) });
        else if (type === 'hash') out.push({ key, value: Buffer.concat(Object.entries(await node.hgetallBuffer(key)).flatMap(([k, v]) => [Buffer.from(k), v])) });
        else out.push({ key, value: Buffer.from(type) });
      }
    } while (cursor !== '0');
  }
  return out;
}

export class Clock {
  constructor(public ms = 1_700_000_000_000) {}
  now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

export function testRing(ids: string[] = ['k1'], seed = randomBytes(32)): KeyRing {
  return keyRingFrom(ids.map((id, i) => ({ id, material: Buffer.from(seed.map((b) => b ^ i)) })));
}

/** Bounds a wait for an event so a missing one fails the test instead of hanging it (not a timing assertion). */
export function within<T>(p: Promise<T>, what: string, ms = 15_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms)));
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

let prefixes = 0;
export function uniquePrefix(): string {
  return `t${process.pid}x${++prefixes}`;
}

export interface StoreKit {
  store: SecretStore;
  prefix: string;
  ring: KeyRing;
  tagOf(sel: SecretSelector): string;
  valueKeyOf(sel: SecretSelector): string;
  negativeKeyOf(sel: SecretSelector): string;
}

/** A store on `env`, closed at teardown. Pass the same prefix + ring to model replicas. */
export function makeStore(
  t: ExecutionContext,
  env: TierEnv,
  source: FakeSource,
  o: { prefix?: string; ring?: KeyRing; clock?: Clock; config?: Partial<CacheConfig> } = {},
): StoreKit {
  const prefix = o.prefix ?? uniquePrefix();
  const ring = o.ring ?? testRing();
  const store = new SecretStore({
    source,
    tier: env.tier(prefix),
    keyRing: ring,
    now: o.clock?.now,
    config: { keyPrefix: prefix, refreshAheadRatio: 0, ...o.config },
  });
  t.teardown(() => store.close());
  const namer = new KeyNamer(ring.namingKey, prefix);
  const tagOf = (sel: SecretSelector) => namer.tag(selectorKey(sel));
  return {
    store,
    prefix,
    ring,
    tagOf,
    valueKeyOf: (sel) => entryKeys(prefix, tagOf(sel)).value,
    negativeKeyOf: (sel) => entryKeys(prefix, tagOf(sel)).negative,
  };
}
