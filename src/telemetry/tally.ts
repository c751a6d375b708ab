/**
 * A counter for the per-call hot path: plain numbers kept in this process, reported through an
 * OpenTelemetry observable counter at each collection (Prometheus scrape or OTLP export). A
 * synchronous OTel counter hashes (sorts and serialises) its attributes on every `add`; at tens
 * of thousands of calls a second that was a measurable share of the gateway's CPU. The metric's
 * name, type (a monotonic sum) and labels are the same either way.
 *
 * Each tally has a fixed label set, passed in the same key order by every caller: the series key
 * is the values joined. Series are bounded (labels here are small enumerations).
 */
import type { Attributes, Meter, ObservableResult } from '@opentelemetry/api';

const MAX_SERIES = 1000;

export class Tally {
  private readonly series = new Map<string, { attrs: Attributes; n: number }>();

  constructor(meter: Meter, name: string, description: string) {
    meter.createObservableCounter(name, { description }).addCallback((r: ObservableResult<Attributes>) => {
      for (const s of this.series.values()) r.observe(s.n, s.attrs);
    });
  }

  add(n: number, attrs: Attributes = {}): void {
    let key = '';
    for (const k in attrs) key += `${String(attrs[k])}\u0000`;
    const s = this.series.get(key);
    if (s) s.n += n;
    else if (this.series.size < MAX_SERIES) this.series.set(key, { attrs: { ...attrs }, n });
  }
}
