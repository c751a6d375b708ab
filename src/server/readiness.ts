/**
 * Readiness: whether this replica can serve, as one value that /readyz and grpc.health.v1 both
 * report. Not ready while warm-up runs (`starting`), while draining (`draining`), and when this
 * replica can reach neither the shared cache (Redis) nor any KMS target *and* holds nothing it
 * could answer. KMS down alone never makes a replica unready while the cache can still answer:
 * that would take the whole fleet out of the Service at once, when stale answers are the point.
 *
 * "Cannot reach KMS" means every target is out of rotation (breaker open, or ejected as unreachable): evidence from real calls, never a
 * probe of our own (probes would spend the KMS budget). The state is re-evaluated on every
 * /readyz and every `intervalMs`, so grpc health watchers see changes without a request.
 */
import type { HealthImplementation } from 'grpc-health-check';
import { setServing } from './server';

export type ReadinessPhase = 'starting' | 'serving' | 'draining';

/** What readiness asks; each answer must be cheap and synchronous. */
export interface ReadinessProbes {
  /** The shared cache answers (Redis connected and its breaker not open). False without Redis. */
  sharedCacheUp(): boolean;
  /** At least one KMS target's breaker is not open. */
  kmsUp(): boolean;
  /** This process holds a value it could answer now. */
  holdsEntries(): boolean;
}

export interface ReadinessReport {
  ready: boolean;
  phase: ReadinessPhase;
  sharedCache: boolean;
  kms: boolean;
  holdsEntries: boolean;
}

export interface ReadinessOptions {
  probes: ReadinessProbes;
  /** Served as grpc.health.v1; set SERVING exactly when ready. */
  health: HealthImplementation;
  /** Re-evaluation period. @default 1000 */
  intervalMs?: number;
  /** Told each time readiness flips (logs). */
  onChange?: (r: ReadinessReport) => void;
}

export class Readiness {
  private phase: ReadinessPhase = 'starting';
  private last: boolean | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly o: ReadinessOptions) {
    setServing(o.health, false);
    this.timer = setInterval(() => this.check(), o.intervalMs ?? 1000);
    this.timer.unref();
  }

  /** Warm-up done: serve when the dependencies allow. */
  serving(): void {
    if (this.phase === 'starting') this.phase = 'serving';
    this.check();
  }

  /** Shutdown began: not ready from now on, whatever the dependencies say. */
  drain(): void {
    this.phase = 'draining';
    this.check();
  }

  /** Evaluates now and pushes a change to grpc health. */
  check(): ReadinessReport {
    const p = this.o.probes;
    const sharedCache = p.sharedCacheUp();
    const kms = p.kmsUp();
    const holdsEntries = p.holdsEntries();
    const ready = this.phase === 'serving' && (sharedCache || kms || holdsEntries);
    const report = { ready, phase: this.phase, sharedCache, kms, holdsEntries };
    if (ready !== this.last) {
      this.last = ready;
      setServing(this.o.health, ready);
      this.o.onChange?.(report);
    }
    return report;
  }

  get ready(): boolean {
    return this.last ?? false;
  }

  close(): void {
    clearInterval(this.timer);
  }
}
