/**
 * Start-up warm-up: reads each selector once through the store, each after a random delay of up to
 * `jitterMs`, at most `concurrency` at a time. A replica joining a warm cluster fills its L1 from
 * the shared tier (no KMS calls); a cold cluster fills through the cluster single-flight, spread
 * out, so a rolling restart never stampedes KMS. Failures are counted and logged, never thrown.
 */
import { isAbortError } from '../errors';
import { selectorKey, type SecretSelector } from '../model';
import { sleep } from '../abort';
import { silentLogger, type Logger } from '../telemetry/logger';
import type { CacheResult, GetOptions } from './secretStore';
import { defaultOf } from '../config/settings';

export interface WarmUpOptions {
  /** Reads in flight at once. @default setting SECRETS_GATEWAY_WARMUP_CONCURRENCY */
  concurrency?: number;
  /** Each read waits a random 0..jitterMs first. @default setting SECRETS_GATEWAY_WARMUP_JITTER_MS */
  jitterMs?: number;
  signal?: AbortSignal;
  logger?: Logger;
  random?: () => number;
}

export interface WarmUpReport {
  ok: number;
  failed: { key: string; error: string }[];
  /** Not attempted because the signal aborted. */
  skipped: number;
}

export async function warmUp(
  store: { get(sel: SecretSelector, opts?: GetOptions): Promise<CacheResult> },
  selectors: SecretSelector[],
  opts: WarmUpOptions = {},
): Promise<WarmUpReport> {
  const concurrency = Math.max(1, opts.concurrency ?? defaultOf('SECRETS_GATEWAY_WARMUP_CONCURRENCY'));
  const jitterMs = Math.max(0, opts.jitterMs ?? defaultOf('SECRETS_GATEWAY_WARMUP_JITTER_MS'));
  const random = opts.random ?? Math.random;
  const logger = opts.logger ?? silentLogger;
  const report: WarmUpReport = { ok: 0, failed: [], skipped: 0 };
  let next = 0;
  const worker = async () => {
    while (next < selectors.length) {
      const sel = selectors[next++];
      try {
        if (opts.signal?.aborted) throw opts.signal.reason;
        if (jitterMs > 0) await sleep(Math.floor(random() * jitterMs), opts.signal);
        await store.get(sel, { signal: opts.signal });
        report.ok++;
      } catch (err) {
        if (opts.signal?.aborted && (isAbortError(err) || err === opts.signal.reason)) {
          report.skipped++;
          continue;
        }
        const name = err instanceof Error ? err.name : 'Error';
        report.failed.push({ key: selectorKey(sel), error: name });
        logger.warn('cache: warm-up read failed', { secretName: sel.name, error: name });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, selectors.length) }, worker));
  return report;
}
