/**
 * The one cancellation toolkit (after nice-grpc's abort-controller-x): waits that honour an
 * AbortSignal, and scopes that cancel many operations at once. Every helper removes its listener
 * and clears its timer when it settles, whichever way it settles, so a long-lived signal (a
 * store's close signal, a server's shutdown signal, a stream's signal) never collects listeners:
 * it holds at most one per wait that is still pending, and none at all for an `AbortScope`'s
 * children.
 */
import { BackendUnavailableError } from './errors';

/** The longest delay a Node timer takes; a longer one fires at once (TimeoutOverflowWarning). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** `ms` made safe for setTimeout: finite, at least 0, at most MAX_TIMER_MS. */
export function timerMs(ms: number): number {
  return Number.isFinite(ms) ? Math.min(Math.max(0, ms), MAX_TIMER_MS) : ms > 0 ? MAX_TIMER_MS : 0;
}

/** The signal's reason as an Error (AbortSignal reasons are `unknown`). */
export function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  if (r instanceof Error) return r;
  const e = new Error(typeof r === 'string' ? r : 'The operation was aborted');
  e.name = 'AbortError';
  return e;
}

/**
 * Settles like `promise`, or rejects with the signal's reason when `signal` aborts first. The
 * underlying work is not cancelled: this bounds only the caller's wait.
 */
export function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(abortReason(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, timerMs(ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A signal that aborts after `ms` or when `parent` aborts. Call `clear()` when done. The timeout's
 * reason is a BackendUnavailableError, not a TimeoutError: it is the gateway's own bound on a slow
 * backend, and must reach a caller as UNAVAILABLE (retry, reconnect) rather than look like the
 * client's deadline or cancellation.
 */
export function timeoutSignal(ms: number, parent?: AbortSignal, what = 'the backend'): { signal: AbortSignal; clear(): void } {
  const ac = new AbortController();
  const onParent = () => ac.abort(parent!.reason);
  const timer = setTimeout(() => ac.abort(new BackendUnavailableError(`${what} did not answer within ${ms} ms`)), timerMs(ms));
  if (parent?.aborted) onParent();
  else parent?.addEventListener('abort', onParent, { once: true });
  return {
    signal: ac.signal,
    clear: () => {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onParent);
    },
  };
}

/**
 * Cancels every operation started under it, at once, without a listener per operation: `close()`
 * walks the live children. For a long-lived owner (a store, a server) of many short operations
 * that must end when the owner closes, where `addEventListener` on the owner's signal would hold
 * one listener per operation in flight.
 */
export class AbortScope {
  private readonly controller = new AbortController();
  private readonly live = new Set<AbortController>();

  /** Aborts once the scope closes (for the owner's own long waits: one listener each). */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Live children (for tests and metrics). */
  get size(): number {
    return this.live.size;
  }

  /**
   * A child that aborts when the scope closes, or after `timeoutMs` with `timeoutReason()`.
   * `release()` it when the operation settles (idempotent): that clears its timer and drops it.
   */
  child(timeoutMs?: number, timeoutReason?: () => Error): { signal: AbortSignal; release(): void } {
    const ac = new AbortController();
    if (this.controller.signal.aborted) {
      ac.abort(this.controller.signal.reason);
      return { signal: ac.signal, release: () => {} };
    }
    this.live.add(ac);
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => ac.abort(timeoutReason?.()), timerMs(timeoutMs));
    return {
      signal: ac.signal,
      release: () => {
        clearTimeout(timer);
        this.live.delete(ac);
      },
    };
  }

  close(reason?: unknown): void {
    if (this.controller.signal.aborted) return;
    this.controller.abort(reason);
    const r = this.controller.signal.reason;
    for (const ac of this.live) ac.abort(r);
    this.live.clear();
  }
}
