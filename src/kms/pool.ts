/**
 * KmsPool reads secrets from an ordered list of KMS targets (regions, VPC endpoints, dedicated
 * instances). Per call it tries targets in health order, fails over at once to the next target on
 * a transient failure, backs off (full jitter) only when every eligible target has failed in the
 * current round, and optionally hedges a slow attempt to the next healthy target. Every attempt
 * takes a token from the request budget. The caller's signal bounds the whole call, retries and
 * waits included. The Alibaba SDK retries nothing itself (kms-wire.md §3).
 */
import type { LookupFunction } from 'node:net';
import type { KmsConfig, KmsTargetConfig } from '../config/types';
import { BackendUnavailableError, InvalidArgumentError } from '../errors';
import { ACS_CURRENT, type SecretSelector, type SecretVersion } from '../model';
import { silentLogger, type Logger } from '../telemetry/logger';
import { createKmsClient, openApiSecretValueClient, type GetSecretValueRequest, type SecretValueClient } from './api';
import { backoffDelayMs } from './backoff';
import { abortable, sleep } from '../abort';
import { LocalTokenBucket, type RequestBudget } from './budget';
import { classify, type Classified } from './classify';
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
  /** Told about every finished attempt (metrics). `outcome` is `OK` or the KMS / network code. */
  onAttempt?: (a: { targetId: string; regionId: string; outcome: string; durationMs: number }) => void;
}

/** Added to a failed attempt's elapsed time in the latency estimate, so failing targets sink. */
const FAILURE_PENALTY_MS = 1000;

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

  constructor(private readonly opts: KmsPoolOptions) {
    const { config } = opts;
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.logger = opts.logger ?? silentLogger;
    this.budget = opts.budget ?? new LocalTokenBucket({ qps: config.budget.qps, burst: config.budget.burst, now: this.now });
    // RAM credentials only when some target uses the OpenAPI: a ClientKey-only pool builds no credential chain.
    let credential: CredentialProvider | undefined = opts.credential;
    const ramCredential = () => (credential ??= buildCredential(config.credentials));
    this.targets = config.targets.map((t, i) => new KmsTarget(t, this.clientFor(t, ramCredential), { ...config.breaker, now: this.now }, i));
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
    return this.targets.map((t) => ({ id: t.id, regionId: t.config.regionId, state: t.breaker.state, ewmaMs: Math.round(t.ewmaMs) }));
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
    const { maxAttempts } = this.opts.config.retry;
    const failedThisRound = new Set<KmsTarget>();
    let attempts = 0;
    let round = 0;
    let last: Classified | undefined;

    for (;;) {
      signal?.throwIfAborted();
      const ordered = healthOrder(eligible).filter((t) => !failedThisRound.has(t));
      const target = ordered.find((t) => t.breaker.tryAcquire());
      if (!target) {
        if (failedThisRound.size === 0) {
          throw last?.error ?? new BackendUnavailableError(`KMS GetSecretValue ${sel.name}: every KMS target's circuit breaker is open`);
        }
        await sleep(backoffDelayMs(round++, this.opts.config.retry, this.random), signal);
        failedThisRound.clear();
        continue;
      }
      const hedge = attempts + 1 < maxAttempts ? ordered.filter((t) => t !== target) : [];
      const result = await this.attemptHedged(target, hedge, req, signal);
      if ('value' in result) return result.value;
      for (const f of result.failures) {
        attempts++;
        failedThisRound.add(f.target);
        // With a hedge, a definitive answer (NotFound, denied) from one target outranks a transient
        // failure of the other, whichever came last.
        if (!last || last.retryable || !f.classified.retryable) last = f.classified;
        this.logger.warn('KMS attempt failed', {
          secretName: sel.name,
          target: f.target.id,
          attempt: attempts,
          kmsCode: f.classified.error.detail.kmsCode,
          httpStatus: f.classified.error.detail.httpStatus,
          requestId: f.classified.error.detail.requestId,
          retryable: f.classified.retryable,
        });
      }
      if (!last!.retryable || attempts >= maxAttempts) throw last!.error;
    }
  }

  /** One attempt on `primary`; if it is still running after the hedge delay, a second on the next healthy target. */
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
      const second = others.find((t) => t.breaker.tryAcquire());
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
      t.breaker.release();
      throw e;
    }
    const started = this.now();
    const { readTimeoutMs, connectTimeoutMs } = this.opts.config;
    try {
      const body = await abortable(t.client.getSecretValue(req, { readTimeoutMs, connectTimeoutMs }, signal), signal);
      t.observe(this.now() - started);
      t.breaker.onSuccess();
      this.opts.onAttempt?.({ targetId: t.id, regionId: t.config.regionId, outcome: 'OK', durationMs: this.now() - started });
      return toSecretVersion(body, t.config.regionId);
    } catch (err) {
      if (signal?.aborted) {
        t.breaker.release();
        throw signal.reason;
      }
      const c = classify(err, `KMS GetSecretValue ${req.SecretName}`, t.config.regionId); // the target goes to the log, not to callers
      this.opts.onAttempt?.({ targetId: t.id, regionId: t.config.regionId, outcome: c.error.detail.kmsCode ?? c.error.name, durationMs: this.now() - started });
      if (c.targetFault) {
        t.observe(this.now() - started + FAILURE_PENALTY_MS);
        t.breaker.onFailure();
      } else {
        t.observe(this.now() - started);
        t.breaker.onSuccess();
      }
      throw new AttemptFailed(c, t);
    }
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
