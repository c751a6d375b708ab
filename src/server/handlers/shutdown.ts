/**
 * Graceful shutdown of watch streams: a registry of open streams that can all be ended with
 * UNAVAILABLE "server shutting down" (the nice-grpc terminator pattern). The composition root
 * calls `endAll()` after health goes NOT_SERVING and before `tryShutdown`; clients reconnect to
 * another replica with `last_version_id` and miss no rotation.
 */
import { BackendUnavailableError } from '../../errors';

/** Ends a stream because this replica is stopping; maps to UNAVAILABLE (safe to retry elsewhere). */
export class ServerShuttingDownError extends BackendUnavailableError {
  constructor() {
    super('server shutting down');
  }
}

interface OpenStream {
  abort(reason: Error): void;
  /** Ends the stream with the returned error when the caller may no longer watch (policy reload). */
  recheck?: () => Error | undefined;
  /** Made by the first `endAll()`: a promise per stream only once something waits for it, not for every idle stream. */
  wait?: Promise<void>;
  finished?: () => void;
}

export class StreamRegistry {
  private readonly open = new Set<OpenStream>();
  private closing = false;

  /** True once `endAll()` ran: new streams are refused with ServerShuttingDownError. */
  get shuttingDown(): boolean {
    return this.closing;
  }

  get size(): number {
    return this.open.size;
  }

  /** Registers a stream; call the returned function when its handler has finished. */
  add(abort: (reason: Error) => void, recheck?: () => Error | undefined): () => void {
    const s: OpenStream = { abort, recheck };
    this.open.add(s);
    return () => {
      if (!this.open.delete(s)) return;
      s.finished?.();
    };
  }

  /** Re-checks every open stream (after a policy reload); ends those that lost their right. Returns how many. */
  recheckAll(): number {
    let ended = 0;
    for (const s of this.open) {
      const err = s.recheck?.();
      if (err) {
        s.abort(err);
        ended++;
      }
    }
    return ended;
  }

  /** Aborts every open stream with ServerShuttingDownError and waits for their handlers to finish. */
  async endAll(): Promise<void> {
    this.closing = true;
    const all = [...this.open];
    const finished = all.map((s) => (s.wait ??= new Promise<void>((resolve) => (s.finished = resolve))));
    for (const s of all) s.abort(new ServerShuttingDownError());
    await Promise.all(finished);
  }
}
