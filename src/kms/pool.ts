/**
 * KmsPool reads secrets from an ordered list of KMS targets (regions, VPC endpoints, dedicated
 * instances). Attempts go where they can succeed: each goes to the healthiest target that may take
 * it now. A target that cannot be reached (refused, reset, DNS, TLS) is ejected at once for a
 * growing interval (ejection.ts); one that throttles or is busy (429, 503
 * ServiceUnavailableTemporary) cools down for a jittered backoff that honours its retry hint, for
 * every call; one that answers badly (5xx, timeout) counts against its breaker and gets this call
 * again only after a full-jitter backoff, while the call fails over at once. When no target may
 * take the next attempt, the call waits for the earliest to be ready (at most the backoff cap:
 * beyond it the call fails at once, so a cached value can be answered stale). A slow attempt may be hedged
 * to the next target. Every attempt takes a token from the request budget. The caller's signal
 * bounds the whole call, retries and waits included; the error it ends with is the most
 * informative one seen (classify.ts INFORMATIVENESS). The Alibaba SDK retries nothing itself
 * (kms-wire.md §3).
 */
import type { LookupFunction } from 'node:net';
import type { KmsConfig, KmsTargetConfig } from '../config/types';
import { BackendUnavailableError, InvalidArgumentError, isAbortError } from '../errors';
import { ACS_CURRENT, type SecretSelector, type SecretVersion } from '../model';
import { silentLogger, type Logger } from '../telemetry/logger';
import { createKmsClient, openApiSecretValueClient, type GetSecretValueRequest, type SecretValueClient } from './api';
import { backoffDelayMs } from './backoff';
import { abortable, sleep } from '../abort';
import { LocalTokenBucket, type RequestBudget } from './budget';
import { classify, INFORMATIVENESS, type Classified } from './classify';
import { toSecretVersion } from './convert';
import { ClientKeyFiles } from './clientKey';
import { buildCredential, type CredentialProvider } from './credentials';
import { createInstanceClient } from './instanceApi';
import { healthOrder, KmsTarget } from './target';

export interface KmsPoolOptions {
  config: KmsConfig;
  budget?: RequestBudget;
  logger?: Logger;
  /** Overrides the provider built from `config.credentials`. */
  credential?: CredentialProvider;
  /** Resolves instance host names (tests point `<kst-id>.cryptoservice.kms.aliyuncs.com` at loopback). */
  lookup?: LookupFunction;
  now?: () => number;
  random?: () => number;
  /** Waits between attempts; tests pass one that moves a fake clock. @default abort.ts sleep */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Builds each target's client; tests pass hand-written fakes. @default the OpenAPI or instance client per target */
  clients?: (t: KmsTargetConfig) => SecretValueClient;
  /** Told about every finished attempt (metrics). `outcome` is `OK` or the KMS / network code. */
  onAttempt?: (a: { targetId: string; regionId: string; outcome: string; durationMs: number }) => void;
}

/** Added to a failed attempt's elapsed time in the latency estimate, so failing targets sink. */
const FAILURE_PENALTY_MS = 1000;
/** How soon a call waiting on another call's probe looks again. */
const PROBE_RECHECK_MS = 50;

/** One call's own view: attempts made, backoff after faults per target, the most informative failure. */
class CallPlan {
  attempts = 0;
  best: Classified | undefined;
  private readonly notBefore = new Map<KmsTarget, number>();
  private readonly faults = new Map<KmsTarget, number>();
  private readonly throttles = new Map<KmsTarget, number>();

  /** When `t` may take this call's next attempt; a probe out elsewhere is looked at again shortly. */
  readyAt(t: KmsTarget): number {
    const shared = t.readyAt();
    const own = this.notBefore.get(t) ?? 0;
    return Math.max(own, shared ?? 0) + (shared === null ? PROBE_RECHECK_MS : 0);
  }

  failed(t: KmsTarget, c: Classified, now: number, backoff: (n: number) => number): void {
    this.attempts++;
    if (!this.best || INFORMATIVENESS[c.kind] >= INFORMATIVENESS[this.best.kind]) this.best = c;
    if (c.kind === 'fault') {
      // Fail over at once; this target gets this call again only after a backoff.
      this.notBefore.set(t, now + backoff(this.next(this.faults, t)));
    } else if (c.kind === 'throttled' || c.kind === 'busy') {
      // Every call waits out the cool-down (a throttled target is over its quota for everyone); its
      // length grows with this call's throttled answers from the target, so an outage of many calls
      // does not push every new call's first wait to the cap.
      const delay = Math.max(c.retryAfterMs ?? 0, backoff(this.next(this.throttles, t)));
      t.coolUntil = Math.max(t.coolUntil, now + delay);
    }
  }

  private next(counts: Map<KmsTarget, number>, t: KmsTarget): number {
    const n = counts.get(t) ?? 0;
    counts.set(t, n + 1);
    return n;
  }
}

class AttemptFailed {
  constructor(
    readonly classified: Classified,
    readonly target: KmsTarget,
  ) {}
}

export class KmsPool {
  readonly targets: KmsTarget[];
  private readonly budget: RequestBudget;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;

  constructor(private readonly opts: KmsPoolOptions) {
    const { config } = opts;
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.sleep = opts.sleep ?? sleep;
    this.logger = opts.logger ?? silentLogger;
    this.budget = opts.budget ?? new LocalTokenBucket({ qps: config.budget.qps, burst: config.budget.burst, now: this.now });
    // RAM credentials only when some target uses the OpenAPI: a ClientKey-only pool builds no credential chain.
    let credential: CredentialProvider | undefined = opts.credential;
    const ramCredential = () => (credential ??= buildCredential(config.credentials));
    this.targets = config.targets.map(
      (t, i) => new KmsTarget(t, opts.clients?.(t) ?? this.clientFor(t, ramCredential), { ...config.breaker, now: this.now }, i, config.ejection),
    );
  }

  /** A ClientKey target speaks the instance API; every other target the OpenAPI. */
  private clientFor(t: KmsTargetConfig, ramCredential: () => CredentialProvider): SecretValueClient {
    if (t.clientKey) {
      if (t.insecureSkipVerify) this.logger.warn('TLS verification is off for this KMS instance (ignoreSslCerts; dev only)', { target: t.id });
      const clientKey = new ClientKeyFiles({ clientKeyFile: t.clientKey.file, password: t.clientKey.password, targetId: t.id, logger: this.logger });
      return createInstanceClient({ endpoint: t.endpoint, caPem: t.caPem, insecureSkipVerify: t.insecureSkipVerify, clientKey, userAgent: 'secrets-gateway', lookup: this.opts.lookup, now: this.now });
    }
    const client = createKmsClient({ endpoint: t.endpoint, protocol: t.protocol, regionId: t.regionId, caPem: t.caPem, credential: ramCredential(), userAgent: 'secrets-gateway' });
    return openApiSecretValueClient(client);
  }

  /** Health of every target, for readiness and operators. */
  health(): { id: string; regionId: string; state: string; ewmaMs: number }[] {
    return this.targets.map((t) => ({ id: t.id, regionId: t.config.regionId, state: t.state, ewmaMs: Math.round(t.ewmaMs) }));
  }

  async getSecretValue(sel: SecretSelector, opts: { signal?: AbortSignal } = {}): Promise<SecretVersion> {
    const { signal } = opts;
    const eligible = sel.regionId ? this.targets.filter((t) => t.config.regionId === sel.regionId) : this.targets;
    if (eligible.length === 0) {
      throw sel.regionId
        ? new InvalidArgumentError('region_id', `no KMS target is configured for region ${sel.regionId}`)
        : new BackendUnavailableError('no KMS target is configured');
    }
    const req: GetSecretValueRequest = {
      SecretName: sel.name,
      VersionId: sel.versionId || undefined,
      VersionStage: sel.versionId ? undefined : sel.versionStage || ACS_CURRENT,
      FetchExtendedConfig: sel.fetchExtendedConfig || undefined,
    };
    const call = new CallPlan();
    try {
      return await this.run(sel, req, eligible, call, signal);
    } catch (err) {
      // Our own bound on the call (the cache's source timeout, a closing store) ended it: what KMS
      // said is more use to the caller than "timed out". The caller's own deadline or cancel stays as it is.
      if (signal?.aborted && call.best && !isAbortError(err)) throw call.best.error;
      throw err;
    }
  }

  /**
   * The attempt loop: each attempt goes to the healthiest target that may take it now; when none
   * may (ejected, cooling down after throttling, breaker open, backing off after a fault in this
   * call), the call waits for the earliest to be ready, bounded by the signal and by the backoff
   * cap (`retry.maxDelayMs`). Ends with a value, a definitive failure, or the most informative
   * failure seen.
   */
  private async run(sel: SecretSelector, req: GetSecretValueRequest, eligible: KmsTarget[], call: CallPlan, signal?: AbortSignal): Promise<SecretVersion> {
    const { maxAttempts, maxDelayMs } = this.opts.config.retry;
    for (;;) {
      signal?.throwIfAborted();
      const now = this.now();
      const ordered = healthOrder(eligible);
      const ready = ordered.filter((t) => call.readyAt(t) <= now);
      const target = ready.find((t) => t.tryAcquire());
      if (!target) {
        const earliest = Math.min(...ordered.map((t) => call.readyAt(t)));
        const waitMs = Math.max(1, earliest - now);
        // A wait longer than the longest backoff is not waited for, signal or not: KMS is out for
        // longer than a retry can bridge, and failing now lets the cache answer a stale value while
        // the caller still waits (drills/DRILLS.md, kms-and-redis-down).
        if (waitMs > maxDelayMs) throw call.best?.error ?? new BackendUnavailableError(`KMS GetSecretValue ${sel.name}: every KMS target is ejected, cooling down or its circuit breaker open`);
        await this.sleep(waitMs, signal);
        continue;
      }
      const hedge = call.attempts + 1 < maxAttempts ? ready.filter((t) => t !== target) : [];
      const result = await this.attemptHedged(target, hedge, req, signal);
      if ('value' in result) return result.value;
      for (const f of result.failures) {
        call.failed(f.target, f.classified, this.now(), (n) => backoffDelayMs(n, this.opts.config.retry, this.random));
        this.logger.warn('KMS attempt failed', {
          secretName: sel.name,
          target: f.target.id,
          attempt: call.attempts,
          kmsCode: f.classified.error.detail.kmsCode,
          httpStatus: f.classified.error.detail.httpStatus,
          requestId: f.classified.error.detail.requestId,
          failure: f.classified.kind,
          retryable: f.classified.retryable,
        });
      }
      const final = result.failures.find((f) => !f.classified.retryable);
      if (final) throw final.classified.error;
      if (call.attempts >= maxAttempts) throw call.best!.error;
    }
  }

  /** One attempt on `primary`; if it is still running after the hedge delay, a second on the next target that may take it. */
  private async attemptHedged(
    primary: KmsTarget,
    others: KmsTarget[],
    req: GetSecretValueRequest,
    signal?: AbortSignal,
  ): Promise<{ value: SecretVersion } | { failures: AttemptFailed[] }> {
    const delay = this.opts.config.hedgeDelayMs;
    const first = this.attemptOn(primary, req, signal);
    if (delay <= 0 || others.length === 0) return settle([first]);
    const racers = [first];
    let timer: NodeJS.Timeout | undefined;
    const hedged = new Promise<void>((resolve) => (timer = setTimeout(resolve, delay)));
    const winner = await Promise.race([first.then(() => 'done' as const, () => 'done' as const), hedged.then(() => 'hedge' as const)]);
    clearTimeout(timer);
    if (winner === 'hedge') {
      const second = others.find((t) => t.tryAcquire());
      if (second) {
        this.logger.debug('KMS hedged request', { from: primary.id, to: second.id, delayMs: delay });
        racers.push(this.attemptOn(second, req, signal));
      }
    }
    return settle(racers);
  }

  private async attemptOn(t: KmsTarget, req: GetSecretValueRequest, signal?: AbortSignal): Promise<SecretVersion> {
    try {
      await this.budget.acquire(t.id, signal);
    } catch (e) {
      t.release();
      throw e;
    }
    const started = this.now();
    const { readTimeoutMs, connectTimeoutMs } = this.opts.config;
    try {
      const body = await abortable(t.client.getSecretValue(req, { readTimeoutMs, connectTimeoutMs }, signal), signal);
      t.observe(this.now() - started);
      t.ejection.onReached();
      t.breaker.onSuccess();
      this.opts.onAttempt?.({ targetId: t.id, regionId: t.config.regionId, outcome: 'OK', durationMs: this.now() - started });
      return toSecretVersion(body, t.config.regionId);
    } catch (err) {
      if (signal?.aborted) {
        t.release();
        throw signal.reason;
      }
      const c = classify(err, `KMS GetSecretValue ${req.SecretName}`, t.config.regionId); // the target goes to the log, not to callers
      this.opts.onAttempt?.({ targetId: t.id, regionId: t.config.regionId, outcome: c.error.detail.kmsCode ?? c.error.name, durationMs: this.now() - started });
      this.judge(t, c, this.now() - started);
      throw new AttemptFailed(c, t);
    }
  }

  /** What a failed attempt does to its target's shared state: ejection, breaker, latency (the cool-down is CallPlan's). */
  private judge(t: KmsTarget, c: Classified, elapsedMs: number): void {
    t.observe(elapsedMs + (c.targetFault ? FAILURE_PENALTY_MS : 0));
    if (c.kind === 'unreachable') {
      t.ejection.eject();
      t.breaker.release(); // no verdict on how the service answers: ejection handles an endpoint that cannot be reached
      return;
    }
    t.ejection.onReached();
    if (c.kind === 'fault') {
      t.breaker.onFailure();
      return;
    }
    t.breaker.onSuccess();
  }
}

/** The first success, or every failure once all have failed. Errors other than AttemptFailed (abort, budget) propagate. */
function settle(racers: Promise<SecretVersion>[]): Promise<{ value: SecretVersion } | { failures: AttemptFailed[] }> {
  return new Promise((resolve, reject) => {
    const failures: AttemptFailed[] = [];
    let pending = racers.length;
    let done = false;
    for (const p of racers) {
      p.then(
        (value) => {
          if (!done) {
            done = true;
            resolve({ value });
          }
        },
        (err) => {
          if (done) return;
          if (!(err instanceof AttemptFailed)) {
            done = true;
            reject(err);
            return;
          }
          failures.push(err);
          if (--pending === 0) {
            done = true;
            resolve({ failures });
          }
        },
      );
    }
  });
}
