/** A bounded ring of the newest requests. Entries hold no values and no credentials by construction. */
import type { LoggedRequest } from './types';

export interface RequestLog {
  push(entry: Omit<LoggedRequest, 'seq'>): LoggedRequest;
  /** Oldest first. */
  entries(): LoggedRequest[];
  clear(): void;
}

export function createRequestLog(capacity: number): RequestLog {
  if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('requestLogSize must be a positive integer');
  const ring: LoggedRequest[] = [];
  let next = 0; // index the next entry overwrites once the ring is full
  let seq = 0;
  return {
    push(entry) {
      const e = Object.freeze({ seq: ++seq, ...entry });
      if (ring.length < capacity) ring.push(e);
      else ring[next] = e;
      next = (next + 1) % capacity;
      return e;
    },
    entries: () => (ring.length < capacity ? [...ring] : [...ring.slice(next), ...ring.slice(0, next)]),
    clear() {
      ring.length = 0;
      next = 0;
    },
  };
}
