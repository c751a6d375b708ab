/**
 * Counts 'abort' listeners on every AbortSignal while a test runs, to show that no path parks
 * listeners on one long-lived signal. Patches EventTarget.prototype.addEventListener for the
 * duration, so a file that uses it runs its tests serially.
 */
import { getEventListeners } from 'node:events';

export interface AbortListenerTracker {
  /** The most 'abort' listeners any one signal held at once. */
  readonly maxOnOneSignal: number;
  /** 'abort' listeners still attached, over every signal seen. */
  live(): number;
  restore(): void;
}

export function trackAbortListeners(): AbortListenerTracker {
  const seen = new Set<AbortSignal>();
  let max = 0;
  const original = EventTarget.prototype.addEventListener;
  EventTarget.prototype.addEventListener = function (this: EventTarget, ...args: Parameters<EventTarget['addEventListener']>) {
    original.apply(this, args);
    if (args[0] === 'abort' && this instanceof AbortSignal) {
      seen.add(this);
      max = Math.max(max, getEventListeners(this, 'abort').length);
    }
  };
  return {
    get maxOnOneSignal() {
      return max;
    },
    live: () => [...seen].reduce((n, s) => n + getEventListeners(s, 'abort').length, 0),
    restore: () => {
      EventTarget.prototype.addEventListener = original;
    },
  };
}
