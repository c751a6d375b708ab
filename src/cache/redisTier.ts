/**
 * The Redis shared tier (standalone, Sentinel or Cluster: whatever ioredis client it is given).
 * All keys of one entry share the `{tag}` hash tag (keys.ts), so the multi-key scripts below run
 * in Cluster too. Commands are bounded by the client's `commandTimeout`; the store wraps every call
 * in its breaker. Pub/sub shares the replica's one subscriber connection (cluster/subscriber.ts).
 */
import { abortable } from '../abort';
import { foreignAbove, runScript } from '../cluster/scripts';
import { subscribeChannel, type ChannelSubscription } from '../cluster/subscriber';
import type { RedisClient } from './redisClient';
import { entryKeys, epochKey, eventsChannel } from './keys';
import type { SharedRead, SharedTier, TierListener } from './sharedTier';

export class RedisTier implements SharedTier {
  readonly kind = 'redis' as const;
  private subscription?: ChannelSubscription;
  private readonly channel: string;

  constructor(
    private readonly client: RedisClient,
    private readonly prefix: string,
  ) {
    this.channel = eventsChannel(prefix);
  }

  async read(tag: string): Promise<SharedRead> {
    const k = entryKeys(this.prefix, tag);
    const [value, negative] = await this.client.mget(k.value, k.negative);
    return { value: value ?? null, negative: negative ?? null };
  }

  async fillValue(tag: string, token: string, sealed: string, ttlMs: number): Promise<boolean> {
    const k = entryKeys(this.prefix, tag);
    return (await runScript(this.client, 'sgFencedFill', [k.lock, k.value, k.negative], [token, sealed, Math.max(1, Math.ceil(ttlMs))])) === 1;
  }

  async fillNegative(tag: string, token: string, sealed: string, ttlMs: number): Promise<boolean> {
    const k = entryKeys(this.prefix, tag);
    return (await runScript(this.client, 'sgFencedFill', [k.lock, k.negative, k.value], [token, sealed, Math.max(1, Math.ceil(ttlMs))])) === 1;
  }

  async evict(tag: string): Promise<void> {
    const k = entryKeys(this.prefix, tag);
    await this.client.del(k.value, k.negative);
  }

  async epoch(candidate: string): Promise<string> {
    // SET NX GET (Redis 7): the previous id, or null when ours was set.
    return (await this.client.set(epochKey(this.prefix), candidate, 'NX', 'GET')) ?? candidate;
  }

  async tryLock(tag: string, token: string, leaseMs: number): Promise<boolean> {
    return (await runScript(this.client, 'sgAcquire', [entryKeys(this.prefix, tag).lock], [token, leaseMs, foreignAbove(leaseMs)])) === 1;
  }

  async extendLock(tag: string, token: string, leaseMs: number): Promise<boolean> {
    return (await runScript(this.client, 'sgExtend', [entryKeys(this.prefix, tag).lock], [token, leaseMs])) === 1;
  }

  async unlock(tag: string, token: string): Promise<boolean> {
    return (await runScript(this.client, 'sgRelease', [entryKeys(this.prefix, tag).lock], [token])) === 1;
  }

  async tryLease(tag: string, token: string, leaseMs: number): Promise<boolean> {
    return (await runScript(this.client, 'sgAcquire', [entryKeys(this.prefix, tag).lease], [token, leaseMs, foreignAbove(leaseMs)])) === 1;
  }

  async releaseLease(tag: string, token: string): Promise<boolean> {
    return (await runScript(this.client, 'sgRelease', [entryKeys(this.prefix, tag).lease], [token])) === 1;
  }

  async publish(message: string): Promise<void> {
    await this.client.publish(this.channel, message);
  }

  /**
   * Listens on the replica's one subscriber connection (cluster/subscriber.ts). Resolves once
   * subscribed, or when `signal` aborts (the subscription keeps trying on every reconnect).
   */
  subscribe(listener: TierListener, opts: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.subscription) return Promise.reject(new Error('RedisTier.subscribe: already subscribed'));
    const sub = subscribeChannel(this.client, this.channel, { message: (m) => listener.message(m), resync: () => listener.resync() });
    this.subscription = sub;
    return opts.signal ? abortable(sub.ready, opts.signal).catch(() => undefined) : sub.ready;
  }

  async close(): Promise<void> {
    this.subscription?.close();
    this.subscription = undefined;
  }
}
