/**
 * In-process single-flight: one running promise per key, shared by every caller of that key.
 *
 * A flight has a `rank` (the store uses "oldest acceptable checkedAt"): a caller joins a running
 * flight whose rank is at least its own; a stricter caller waits for the running flight to settle
 * and then starts (or joins) a newer one. A caller's signal bounds only its own wait. The flight's
 * own signal aborts only when its last waiter has left, or on close(); the work decides what to
 * do then (the store keeps a source call going so its result still fills the cache).
 */
import { ResourceExhaustedError } from '../errors';
import { abortable } from '../abort';

interface Flight<T> {
  rank: number;
  /** The strictest rank of callers that waited on this flight without being satisfied by its rank. */
  wanted: number;
  waiters: number;
  done: boolean;
  promise: Promise<T>;
  settled: Promise<void>;
  controller: AbortController;
}

/** The work of a flight: `rank` is the rank it was started at. */
export type FlightFn<T> = (signal: AbortSignal, rank: number) => Promise<T>;

export interface SingleFlightOptions {
  maxWaitersPerKey: number;
  maxFlights: number;
}

export class SingleFlight<T> {
  private readonly flights = new Map<string, Flight<T>>();
  private closedReason: Error | undefined;

  constructor(private readonly opts: SingleFlightOptions) {}

  /** Keys with a flight running. */
  get inFlight(): number {
    return this.flights.size;
  }

  /** Whether a flight for `key` is running (a caller joining it starts no new work). */
  has(key: string): boolean {
    return this.flights.has(key);
  }

  /** Callers waiting on any flight. */
  get waiters(): number {
    let n = 0;
    for (const f of this.flights.values()) n += f.waiters;
    return n;
  }

  /**
   * Joins or starts the flight of `key`. When the running flight's rank is lower than `rank`, waits
   * for its result and returns it if `accept` says so; otherwise starts the next flight, at the
   * strictest rank any of the running flight's waiters wanted, so they all share it.
   */
  async do(key: string, rank: number, fn: FlightFn<T>, opts: { signal?: AbortSignal; accept?: (result: T) => boolean } = {}): Promise<T> {
    const { signal, accept } = opts;
    let nextRank = rank;
    for (;;) {
      signal?.throwIfAborted();
      const running = this.flights.get(key);
      if (!running) return this.join(key, this.start(key, nextRank, fn), signal);
      if (running.rank >= rank) return this.join(key, running, signal);
      running.wanted = Math.max(running.wanted, rank);
      const result = await this.join(key, running, signal);
      if (accept?.(result)) return result;
      nextRank = Math.max(rank, running.wanted);
    }
  }

  /** Aborts every flight (their waiters get the flight's outcome) and forgets them. Resolves when they have settled. */
  close(reason: Error): Promise<void> {
    this.closedReason = reason;
    const settled = [...this.flights.values()].map((f) => {
      f.controller.abort(reason);
      return f.settled;
    });
    this.flights.clear();
    return Promise.all(settled).then(() => {});
  }

  private start(key: string, rank: number, fn: FlightFn<T>): Flight<T> {
    // A caller that was already past its own checks when close() ran (a refresh-ahead between two
    // awaits) must not start source work that nobody will wait for or abort.
    if (this.closedReason) throw this.closedReason;
    if (this.flights.size >= this.opts.maxFlights) {
      throw new ResourceExhaustedError(`too many cache fills in flight (limit ${this.opts.maxFlights})`);
    }
    const controller = new AbortController();
    const flight = { rank, wanted: rank, waiters: 0, done: false, controller } as Flight<T>;
    flight.promise = Promise.resolve().then(() => fn(controller.signal, rank));
    flight.settled = flight.promise.then(
      () => this.finish(key, flight),
      () => this.finish(key, flight),
    );
    this.flights.set(key, flight);
    return flight;
  }

  private finish(key: string, flight: Flight<T>): void {
    flight.done = true;
    if (this.flights.get(key) === flight) this.flights.delete(key);
  }

  private async join(key: string, flight: Flight<T>, signal?: AbortSignal): Promise<T> {
    if (flight.waiters >= this.opts.maxWaitersPerKey) {
      throw new ResourceExhaustedError(`too many callers waiting on one secret (limit ${this.opts.maxWaitersPerKey})`);
    }
    flight.waiters++;
    try {
      return await abortable(flight.promise, signal);
    } finally {
      flight.waiters--;
      if (flight.waiters === 0 && !flight.done) {
        // Nobody is waiting any more: new callers start afresh; the work learns it via its signal.
        if (this.flights.get(key) === flight) this.flights.delete(key);
        flight.controller.abort(new DOMException('all waiters left', 'AbortError'));
      }
    }
  }
}
