/**
 * One SUBSCRIBE connection per Redis client, shared by every channel a replica listens on (the
 * cache's change feed and the watch bus), instead of one duplicate connection per listener.
 *
 * Pub/sub is at-most-once: messages published while the connection is down are lost. Every
 * reconnect after the first subscription is reported to each listener as a resync, so it can
 * re-read what it holds instead of trusting the gap. Channels are (re)subscribed on every
 * `ready`, so a listener that could not subscribe while Redis was down does once it is back.
 */
import type { RedisClient } from '../cache/redisClient';
import { silentLogger, type Logger } from '../telemetry/logger';

export interface ChannelListener {
  message(message: string): void;
  /** The connection came back after an outage: messages may have been lost. */
  resync?(): void;
}

export interface ChannelSubscription {
  /** Resolves once the channel is subscribed (later outages do not reject it). */
  readonly ready: Promise<void>;
  /** Stops listening; the last listener of the connection closes it. Idempotent. */
  close(): void;
}

const shared = new WeakMap<RedisClient, SharedSubscriber>();

/** Listens on `channel` over the one subscriber connection of `client`. */
export function subscribeChannel(client: RedisClient, channel: string, listener: ChannelListener, logger: Logger = silentLogger): ChannelSubscription {
  let s = shared.get(client);
  if (!s) {
    s = new SharedSubscriber(client, logger, () => shared.delete(client));
    shared.set(client, s);
  }
  return s.add(channel, listener);
}

class SharedSubscriber {
  private readonly conn: RedisClient;
  private readonly channels = new Map<string, { listeners: Set<ChannelListener>; subscribed: boolean; settle: (() => void)[] }>();
  private everReady = false;
  private lastErrorLogMs = -Infinity;

  constructor(
    client: RedisClient,
    private readonly logger: Logger,
    private readonly onEmpty: () => void,
  ) {
    this.conn = client.duplicate();
    this.conn.on('message', (channel: string, message: string) => {
      const c = this.channels.get(channel);
      if (c) for (const l of c.listeners) l.message(message);
    });
    // ioredis emits one error per failed reconnect: log at most every 10 s; the breaker on the
    // main client reports the outage itself.
    this.conn.on('error', (err: Error) => {
      if (Date.now() - this.lastErrorLogMs < 10_000) return;
      this.lastErrorLogMs = Date.now();
      this.logger.debug('cluster: subscriber connection error', { error: err });
    });
    this.conn.on('ready', () => {
      const reconnect = this.everReady;
      this.everReady = true;
      for (const [channel, c] of this.channels) {
        c.subscribed = false;
        this.subscribe(channel);
        if (reconnect) for (const l of c.listeners) l.resync?.();
      }
    });
    if (this.conn.status === 'wait') this.conn.connect().catch(() => undefined);
  }

  add(channel: string, listener: ChannelListener): ChannelSubscription {
    let c = this.channels.get(channel);
    if (!c) {
      c = { listeners: new Set(), subscribed: false, settle: [] };
      this.channels.set(channel, c);
    }
    c.listeners.add(listener);
    const entry = c;
    const ready = new Promise<void>((resolve) => {
      if (entry.subscribed) resolve();
      else entry.settle.push(resolve);
    });
    if (this.conn.status === 'ready' && !c.subscribed) this.subscribe(channel);
    let closed = false;
    return {
      ready,
      close: () => {
        if (closed) return;
        closed = true;
        entry.listeners.delete(listener);
        if (entry.listeners.size > 0) return;
        this.channels.delete(channel);
        for (const s of entry.settle.splice(0)) s();
        if (this.channels.size === 0) {
          this.onEmpty();
          // A subscriber connection holds no state worth a graceful QUIT; disconnect never hangs.
          this.conn.removeAllListeners('ready');
          this.conn.removeAllListeners('message');
          this.conn.disconnect();
        } else this.conn.unsubscribe(channel).catch(() => undefined);
      },
    };
  }

  private subscribe(channel: string): void {
    this.conn.subscribe(channel).then(
      () => {
        const c = this.channels.get(channel);
        if (!c) return;
        c.subscribed = true;
        for (const s of c.settle.splice(0)) s();
      },
      // Not connected after all: the next 'ready' tries again.
      () => undefined,
    );
  }
}
