/**
 * A hand-written fake KMS for cache tests: implements the cache's SecretSource, counts calls (in
 * total, per selector, in flight), adds latency, and answers whatever the test programs: a
 * version, or a typed error. Honours the signal it is given.
 */
import { sleep } from '../../src/abort';
import { selectorKey, type SecretSelector, type SecretVersion } from '../../src/model';
import type { SecretSource } from '../../src/cache/secretSource';

export type Answer = SecretVersion | Error;

export function version(name: string, versionId: string, text: string, extra: Partial<SecretVersion> = {}): SecretVersion {
  return {
    name,
    versionId,
    versionStages: ['ACSCurrent'],
    value: { kind: 'string', text },
    secretType: 'Generic',
    automaticRotation: false,
    regionId: 'cn-hangzhou',
    ...extra,
  };
}

export interface FakeSourceOptions {
  latencyMs?: number;
  /** Called for every call (n = 1-based call number for this selector). @default a new version per call */
  respond?: (sel: SecretSelector, n: number) => Answer | Promise<Answer>;
  /** Runs before the call is counted (e.g. a request budget). */
  before?: (sel: SecretSelector, signal?: AbortSignal) => Promise<void>;
}

export class FakeSource implements SecretSource {
  calls = 0;
  inFlight = 0;
  maxInFlight = 0;
  aborted = 0;
  readonly callTimes: number[] = [];
  readonly byKey = new Map<string, number>();
  latencyMs: number;
  respond: (sel: SecretSelector, n: number) => Answer | Promise<Answer>;

  constructor(private readonly opts: FakeSourceOptions = {}) {
    this.latencyMs = opts.latencyMs ?? 0;
    this.respond = opts.respond ?? ((sel, n) => version(sel.name, sel.versionId ?? `v${n}`, `value-of-${sel.name}-${n}`));
  }

  callsFor(sel: SecretSelector): number {
    return this.byKey.get(selectorKey(sel)) ?? 0;
  }

  async getSecretValue(sel: SecretSelector, opts: { signal?: AbortSignal }): Promise<SecretVersion> {
    await this.opts.before?.(sel, opts.signal);
    const key = selectorKey(sel);
    const n = (this.byKey.get(key) ?? 0) + 1;
    this.byKey.set(key, n);
    this.calls++;
    this.callTimes.push(Date.now());
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.latencyMs > 0) await sleep(this.latencyMs, opts.signal);
      const a = await this.respond(sel, n);
      if (a instanceof Error) throw a;
      const value = a.value.kind === 'binary' ? { kind: 'binary' as const, bytes: Buffer.from(a.value.bytes) } : { ...a.value };
      return { ...a, versionStages: [...a.versionStages], value };
    } catch (err) {
      if (opts.signal?.aborted) this.aborted++;
      throw err;
    } finally {
      this.inFlight--;
    }
  }
}
