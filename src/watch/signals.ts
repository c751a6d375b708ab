import { BackendUnavailableError } from '../errors';

/**
 * Small AbortSignal helpers that always clean up after themselves (no timer or listener outlives
 * the operation it bounds, so nothing keeps the process alive after `close()`).
 */

/**
 * A signal that aborts after `ms` or when `parent` aborts. Call `clear()` when done. The timeout's
 * reason is a BackendUnavailableError, not a TimeoutError: it is the gateway's own bound on a slow
 * backend, and must reach a watcher as UNAVAILABLE (reconnect) rather than look like the client's
 * deadline or cancellation.
 */
export function timeoutSignal(ms: number, parent?: AbortSignal): { signal: AbortSignal; clear(): void } {
  const ac = new AbortController();
  const onParent = () => ac.abort(parent!.reason);
  const timer = setTimeout(() => ac.abort(new BackendUnavailableError(`the backend did not answer within ${ms} ms`)), ms);
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

/** Resolves or rejects with `p`, or rejects with `signal.reason` as soon as `signal` aborts. `p` itself is not cancelled. */
export function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    p.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
