/**
 * The Redis shared tier (standalone, Sentinel or Cluster: whatever ioredis client it is given).
 * All keys of one entry share the `{tag}` hash tag (keys.ts), so the multi-key scripts below run
 * in Cluster too. Commands are bounded by the client's `commandTimeout`; the store wraps every call
 * in its breaker. Pub/sub uses a duplicate connection that this tier owns and closes.
 */
import { foreignAbove, runScript } from '../cluster/scripts';
import type { RedisClient } from './redisClient';
import { entryKeys, eventsChannel } from './keys';
import type { SharedRead, SharedTier } from './sharedTier';

export class RedisTier implements SharedTier {
  readonly kind = 'redis' as const;
  private subscriber?: RedisClient;
  private settleSubscribe?: () => void;
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
   * Subscribes on a duplicate connection. (Re)subscribes on every `ready`, so a subscriber that
   * could not subscribe while Redis was down does once it is back; ioredis' autoResubscribe
   * covers ordinary reconnects. Resolves on the first successful SUBSCRIBE, or when `signal` aborts.
   */
  subscribe(listener: (message: string) => void, opts: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.subscriber) return Promise.reject(new Error('RedisTier.subscribe: already subscribed'));
    const sub = this.client.duplicate();
    this.subscriber = sub;
    sub.on('message', (channel: string, message: string) => {
      if (channel === this.channel) listener(message);
    });
    // Connection errors are the breaker's business on the main client; here they only mean "not yet".
    sub.on('error', () => {});
    return new Promise<void>((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        this.settleSubscribe = undefined;
        opts.signal?.removeEventListener('abort', finish);
        resolve();
      };
      this.settleSubscribe = finish;
      const attempt = () => {
        sub.subscribe(this.channel).then(finish, () => {});
      };
      sub.on('ready', attempt);
      if (sub.status === 'ready') attempt();
      opts.signal?.addEventListener('abort', finish, { once: true });
    });
  }

  async close(): Promise<void> {
    const sub = this.subscriber;
    this.subscriber = undefined;
    this.settleSubscribe?.();
    if (!sub) return;
    sub.removeAllListeners('ready');
    sub.removeAllListeners('message');
    sub.disconnect();
  }
}
