/**
 * Per-region fault injection: added latency, an error code at a rate (optionally only N times, so
 * a test can say "fail twice, then succeed", and then another spec, so it can say "429 once, then
 * 503 once, then succeed"), and a QPS limit answering 429 Rejected.Throttling.
 * The QPS window is a sliding log of at most `qpsLimit` timestamps, so its memory is bounded.
 */
import { DEFAULT_MESSAGES, KmsApiError, throttled } from './errors';
import type { FaultSpec } from './types';

export interface FaultDecision {
  error?: KmsApiError;
  kind?: 'error' | 'throttle';
}

export interface RegionFaults {
  set(spec: FaultSpec): void;
  clear(): void;
  /** The current spec; `times` shows the failures still to inject. */
  get(): FaultSpec;
  latencyMs(): number;
  /** Decides one request's fate: throttling first (the gateway's limiter runs before the service), then injected errors. */
  decide(action: string): FaultDecision;
}

const FIELDS = ['latencyMs', 'errorCode', 'httpStatus', 'errorMessage', 'rate', 'times', 'actions', 'qpsLimit', 'then'];
/** How many `then` specs may follow one another (a bound on what the admin endpoint accepts). */
const MAX_THEN_DEPTH = 16;

/** Validates a spec from code or from the admin endpoint; throws RangeError naming the field. */
export function checkFaultSpec(spec: unknown, depth = 0): FaultSpec {
  if (depth > MAX_THEN_DEPTH) throw new RangeError(`then: at most ${MAX_THEN_DEPTH} specs may follow one another`);
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) throw new RangeError('fault spec must be an object');
  const s = spec as Record<string, unknown>;
  for (const k of Object.keys(s)) if (!FIELDS.includes(k)) throw new RangeError(`unknown fault field ${k} (known: ${FIELDS.join(', ')})`);
  const int = (name: string, min: number, max: number) => {
    const v = s[name];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)) throw new RangeError(`${name} must be an integer from ${min} to ${max}`);
  };
  int('latencyMs', 0, 600_000);
  int('qpsLimit', 1, 1_000_000);
  int('httpStatus', 400, 599);
  int('times', 1, 1_000_000);
  if (s.errorCode !== undefined && (typeof s.errorCode !== 'string' || !s.errorCode)) throw new RangeError('errorCode must be a non-empty string');
  if ((s.errorCode === undefined) !== (s.httpStatus === undefined)) throw new RangeError('errorCode and httpStatus go together');
  if (s.errorMessage !== undefined && typeof s.errorMessage !== 'string') throw new RangeError('errorMessage must be a string');
  if (s.rate !== undefined && (typeof s.rate !== 'number' || s.rate < 0 || s.rate > 1)) throw new RangeError('rate must be a number from 0 to 1');
  if (s.actions !== undefined && (!Array.isArray(s.actions) || s.actions.some((a) => typeof a !== 'string'))) throw new RangeError('actions must be a list of action names');
  if (s.then !== undefined) {
    if (s.times === undefined) throw new RangeError('then needs times: it is the spec that follows once the injected errors run out');
    checkFaultSpec(s.then, depth + 1);
  }
  return spec as FaultSpec;
}

export function createRegionFaults(opts: { now: () => number; random?: () => number }): RegionFaults {
  const random = opts.random ?? Math.random;
  let spec: FaultSpec = {};
  let window: number[] = [];

  const copy = (s: FaultSpec): FaultSpec => ({ ...s, ...(s.actions ? { actions: [...s.actions] } : {}), ...(s.then ? { then: copy(s.then) } : {}) });

  return {
    set(next) {
      spec = copy(checkFaultSpec(next));
      window = [];
    },
    clear() {
      spec = {};
      window = [];
    },
    get: () => copy(spec),
    latencyMs: () => spec.latencyMs ?? 0,
    decide(action) {
      if (spec.qpsLimit !== undefined) {
        const now = opts.now();
        window = window.filter((t) => t > now - 1000);
        if (window.length >= spec.qpsLimit) return { error: throttled(), kind: 'throttle' };
        window.push(now);
      }
      const { errorCode, httpStatus } = spec;
      if (errorCode === undefined || httpStatus === undefined) return {};
      if (spec.actions && !spec.actions.includes(action)) return {};
      if (random() >= (spec.rate ?? 1)) return {};
      const error = new KmsApiError(errorCode, httpStatus, spec.errorMessage ?? DEFAULT_MESSAGES[errorCode] ?? errorCode);
      if (spec.times !== undefined) {
        // Counting down in the spec lets `get()` (and the admin state) show the failures still to come.
        const times = spec.times - 1;
        if (times > 0) spec = { ...spec, times };
        else if (spec.then) {
          spec = copy(spec.then);
          window = [];
        } else {
          const { latencyMs, qpsLimit } = spec;
          spec = { ...(latencyMs !== undefined ? { latencyMs } : {}), ...(qpsLimit !== undefined ? { qpsLimit } : {}) };
        }
      }
      return { error, kind: 'error' };
    },
  };
}
