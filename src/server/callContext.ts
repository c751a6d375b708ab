/**
 * The per-call context: an AbortSignal derived from the grpc-js call (nice-grpc's CallContext).
 * It aborts when the client cancels or goes away (reason: an AbortError) and when the call's
 * deadline passes (reason: a TimeoutError), so `toStatus(err, signal)` reports CANCELLED or
 * DEADLINE_EXCEEDED, never a server failure. The signal is passed to the reader and from there to
 * KMS. `close()` must run in `finally`: it clears the deadline timer and the listener.
 */
import type { ServerUnaryCall } from '@grpc/grpc-js';
import { MAX_TIMER_MS } from '../abort';

/** The parts of a grpc-js server call the context needs (any unary or streaming call has them). */
export type CallLike = Pick<ServerUnaryCall<unknown, unknown>, 'getDeadline' | 'getPeer' | 'on' | 'removeListener'> & { cancelled?: boolean };

export interface CallContext {
  /** Aborted when the client cancels or the deadline passes. */
  readonly signal: AbortSignal;
  /** `call.getPeer()`, e.g. `127.0.0.1:53211`. */
  readonly peer: string;
  /** When the handler started (epoch ms), for `durationMs` in logs. */
  readonly startedAtMs: number;
  elapsedMs(): number;
  /** Clears the timer and the listener. Idempotent. */
  close(): void;
}

/**
 * A cancel this close to the deadline is taken as the deadline: timers may fire early against the
 * wall clock, and the client's own deadline RST can beat ours when the call reached us late.
 */
const DEADLINE_SLACK_MS = 50;

export function createCallContext(call: CallLike, now: () => number = Date.now): CallContext {
  const ac = new AbortController();
  const startedAtMs = now();
  const deadline = call.getDeadline();
  const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
  const expire = () => ac.abort(new DOMException('deadline exceeded', 'TimeoutError'));
  // grpc-js runs its own deadline timer, which ends the call and emits 'cancelled', often a tick
  // before ours: a cancel at (or a timer tick from) the deadline is the deadline.
  const onCancelled = () => (now() >= deadlineMs - DEADLINE_SLACK_MS ? expire() : ac.abort(new DOMException('cancelled by the client', 'AbortError')));
  call.on('cancelled', onCancelled);
  if (call.cancelled) onCancelled();

  let timer: NodeJS.Timeout | undefined;
  // A deadline further out than a Node timer reaches (~24.8 days) is re-armed in steps: one
  // setTimeout of more than 2^31-1 ms would fire at once and answer DEADLINE_EXCEEDED immediately.
  const arm = () => {
    const left = deadlineMs - now();
    if (left <= 0) expire();
    else timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
  };
  if (Number.isFinite(deadlineMs)) arm();
  let peer = 'unknown';
  try {
    peer = call.getPeer();
  } catch {
    // A call whose socket is already gone has no peer; the signal has (or will have) aborted.
  }
  return {
    signal: ac.signal,
    peer,
    startedAtMs,
    elapsedMs: () => now() - startedAtMs,
    close: () => {
      clearTimeout(timer);
      call.removeListener('cancelled', onCancelled);
    },
  };
}
