/**
 * Per-stream delivery: the loop one WatchSecret stream runs. Transport-neutral: the gRPC handler
 * supplies a `StreamSink` (write + drain) and maps messages to protobuf.
 *
 * Backpressure: when `write()` reports a full buffer the loop waits for drain before taking the
 * next update, and meanwhile the subscription's single slot keeps only the newest version. Memory
 * per stream is therefore bounded by the transport's buffer plus one message, however slow the
 * client and however many rotations happen.
 */
import type { SecretSelector, SecretVersion } from '../model';
import type { WatchHub } from './hub';
import type { FreshnessInfo } from './reader';

export type WatchMessage =
  /** A version, as full state (the first one, or a new one). */
  | { kind: 'secret'; secret: SecretVersion; freshness: FreshnessInfo }
  /** Nothing changed: `versionId` is still current as of `freshness.checkedAtMs`. */
  | { kind: 'heartbeat'; versionId: string; freshness: FreshnessInfo };

export interface StreamSink {
  /** Sends or buffers one message; false means the buffer is full: wait for `drained()` first. */
  write(msg: WatchMessage): boolean;
  /** Resolves when the transport takes more; rejects with `signal.reason` if it aborts first. */
  drained(signal: AbortSignal): Promise<void>;
}

export interface WatchStreamOptions {
  hub: WatchHub;
  sel: SecretSelector;
  /** The version the client already holds (resume). When current, the first message is a heartbeat. */
  lastVersionId?: string;
  sink: StreamSink;
  /** Ends the stream: client gone, deadline, or server shutdown. */
  signal: AbortSignal;
  /** Idle time after which a heartbeat is sent. */
  heartbeatMs: number;
  /**
   * Runs before each Secret message is written (the audit line of what is served); when it
   * rejects, nothing is written and the stream ends with its error.
   */
  beforeSecret?: (msg: Extract<WatchMessage, { kind: 'secret' }>) => Promise<void>;
  /** Told, after a new version (not the first message) is written, how long after its KMS check it went out (metrics). */
  onPushed?: (latencyMs: number) => void;
}

/**
 * Runs one stream until it ends. Never returns normally: it rejects with the signal's reason when
 * the signal aborts, or with the typed error that ended the watch (SecretNotFoundError,
 * AccessDeniedError), or with the initial read's error. The subscription is always released.
 */
export async function runWatchStream(o: WatchStreamOptions): Promise<never> {
  const sub = o.hub.subscribe(o.sel);
  try {
    const send = async (msg: WatchMessage) => {
      if (msg.kind === 'secret' && o.beforeSecret) await o.beforeSecret(msg);
      if (!o.sink.write(msg)) await o.sink.drained(o.signal);
    };
    const first = await sub.initial(o.signal);
    let sentVersionId = first.secret.versionId;
    await send(
      o.lastVersionId === sentVersionId
        ? { kind: 'heartbeat', versionId: sentVersionId, freshness: first.freshness }
        : { kind: 'secret', secret: first.secret, freshness: first.freshness },
    );
    for (;;) {
      const update = await sub.next(o.signal, o.heartbeatMs);
      if (update && update.secret.versionId !== sentVersionId) {
        sentVersionId = update.secret.versionId;
        await send({ kind: 'secret', secret: update.secret, freshness: update.freshness });
        o.onPushed?.(Math.max(0, Date.now() - update.freshness.checkedAtMs));
      } else {
        // Idle (or an update we already sent): say we are still here and how fresh we are.
        const freshness = sub.freshness() ?? first.freshness;
        await send({ kind: 'heartbeat', versionId: sentVersionId, freshness });
      }
    }
  } finally {
    sub.close();
  }
}
