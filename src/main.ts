/**
 * The composition root: build everything from the config, start it, and stop it in order.
 * Nothing here holds business rules; tests run the whole gateway through `startGateway` on port 0.
 */
import {
  createRedisClient,
  generateKeyRing,
  MemoryBackend,
  MemoryTier,
  parseKeyRing,
  RedisTier,
  RedisTokenBucket,
  SecretStore,
  waitForReady,
  warmUp,
  type RedisClient,
  type SecretSource,
} from './cache';
import { KeyNamer } from './cache/keys';
import { createAuditSink } from './auth/audit';
import { CallerGate } from './auth/gate';
import { JwtVerifier } from './auth/jwt';
import { PolicyStore } from './auth/policy';
import { CallerLimits } from './auth/rateLimits';
import { ReloadingServerCredentials } from './auth/tls';
import type { GatewayConfig } from './config/types';
import { ConfigError } from './errors';
import { LocalTokenBucket } from './kms/budget';
import { KmsPool } from './kms/pool';
import type { AccessDeps } from './server/handlers/access';
import { createSecretsGatewayService } from './server/handlers/service';
import { RECOMMENDED_SERVER_OPTIONS } from './server/limits';
import { startAdminServer, type AdminServer } from './server/admin';
import { Readiness } from './server/readiness';
import { buildServer, createHealth } from './server/server';
import { createInstruments, observeGateway } from './telemetry/instruments';
import { createLogger, type Logger } from './telemetry/logger';
import { startTelemetry, type Telemetry } from './telemetry/otel';
import { createMemoryBus, createRedisWatchBus, createWatchHub } from './watch';

/**
 * Transport credentials, the caller gate, per-caller limits and the audit sink, from config.
 * Each file-backed part (certificates, JWKS, policy, audit file) registers its closer.
 */
async function buildAccess(config: GatewayConfig, logger: Logger, closers: (() => Promise<unknown> | void)[]): Promise<{ access: AccessDeps; credentials?: ReloadingServerCredentials; policy?: PolicyStore }> {
  const a = config.auth;
  const log = logger.child({ component: 'auth' });
  let credentials: ReloadingServerCredentials | undefined;
  if (a.tls) {
    const c = new ReloadingServerCredentials({ ...a.tls, reloadIntervalMs: a.reloadIntervalMs }, log);
    credentials = c;
    closers.push(() => c.close());
  }
  let tokens: JwtVerifier | undefined;
  if (a.jwt) {
    const source = 'file' in a.jwt.jwks ? { file: a.jwt.jwks.file, pollIntervalMs: a.reloadIntervalMs } : { url: a.jwt.jwks.url };
    const v = new JwtVerifier({ issuer: a.jwt.issuer, audience: a.jwt.audience, jwks: source, logger: log });
    tokens = v;
    closers.push(() => v.close());
  }
  let policy: PolicyStore | undefined;
  if (a.policyFile) {
    const p = new PolicyStore({ file: a.policyFile, logger: log, pollIntervalMs: a.reloadIntervalMs });
    policy = p;
    closers.push(() => p.close());
  }
  const gate = new CallerGate({
    acceptCertificates: !!a.tls?.clientCaFile,
    requireCertificate: !!a.tls?.clientCaFile && a.tls.clientAuth === 'require',
    ...(tokens ? { tokens } : {}),
    ...(policy ? { policy } : {}),
  });
  const rateLimits = new CallerLimits({ ...a.limits, maxCallers: 100_000 });
  let audit: AccessDeps['audit'];
  if (a.auditLog) {
    const sink = await createAuditSink(a.auditLog, { logger: log });
    audit = sink;
    closers.push(() => sink.close());
    // logrotate's postrotate: reopen the file at its path.
    closers.push(onSighup(() => void sink.reopen()));
  }
  return { access: { gate, rateLimits, ...(audit ? { audit } : {}) }, ...(credentials ? { credentials } : {}), ...(policy ? { policy } : {}) };
}

/**
 * Runs `fn` on SIGHUP until the returned function is called. One process listener serves every
 * gateway in the process (tests and embedders start many), so none of them hits the listener limit.
 */
const hupHandlers = new Set<() => void>();
const onHup = () => hupHandlers.forEach((h) => h());
function onSighup(fn: () => void): () => void {
  const h = () => fn();
  if (hupHandlers.size === 0) process.on('SIGHUP', onHup);
  hupHandlers.add(h);
  return () => {
    hupHandlers.delete(h);
    if (hupHandlers.size === 0) process.off('SIGHUP', onHup);
  };
}

/**
 * The admin server on SECRETS_GATEWAY_ADMIN_LISTEN. In dev a busy port falls back to a free one
 * (two dev gateways on one machine); in serve a port that cannot be bound stops startup.
 */
async function startAdmin(config: GatewayConfig, logger: Logger, o: Omit<Parameters<typeof startAdminServer>[0], 'listen'>): Promise<AdminServer> {
  const listen = config.admin.listen;
  try {
    return await startAdminServer({ ...o, listen });
  } catch (e) {
    if (config.mode === 'dev' && (e as NodeJS.ErrnoException).code === 'EADDRINUSE' && listen.port !== 0) {
      logger.info('admin port busy; dev mode uses a free one', { port: listen.port });
      return startAdminServer({ ...o, listen: { ...listen, port: 0 } });
    }
    throw new ConfigError('SECRETS_GATEWAY_ADMIN_LISTEN', `cannot listen on ${listen.host}:${listen.port}: ${(e as Error).message}`);
  }
}

export interface GatewayDeps {
  logger?: Logger;
  /** Replaces the KMS pool (tests that need a programmable source). */
  source?: SecretSource;
  /** This replica's id in the watch interest registry. @default hostname-random */
  replicaId?: string;
  /** Watch lease per key (tests shorten it to show takeover quickly). */
  watchLeaseMs?: number;
  /** Replaces the telemetry built from config (tests inject in-memory exporters; /metrics is then off). */
  telemetry?: Telemetry;
  /** Told the bound ports once both servers listen, before warm-up (tests watch readiness during it). */
  report?: (ports: { port: number; adminPort: number }) => void;
}

export interface RunningGateway {
  /** The bound gRPC port (useful with port 0). */
  port: number;
  /** The bound admin HTTP port (/metrics, /healthz, /readyz). */
  adminPort: number;
  /**
   * Stops in order: health NOT_SERVING, watch streams end with UNAVAILABLE "server shutting down",
   * a bounded graceful drain, force close, then the watch hub, the cache and Redis. Idempotent.
   */
  shutdown(): Promise<void>;
}

export async function startGateway(config: GatewayConfig, deps: GatewayDeps = {}): Promise<RunningGateway> {
  const logger = deps.logger ?? createLogger({ level: config.logLevel });
  const { tuning } = config.cache;
  const prefix = tuning.keyPrefix;
  const closers: (() => Promise<unknown> | void)[] = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) await Promise.resolve(close()).catch((e: Error) => logger.warn('shutdown step failed', { error: e }));
  };

  try {
    const telemetry =
      deps.telemetry ??
      startTelemetry({ otlpEndpoint: config.telemetry.otlpEndpoint, metricIntervalMs: config.telemetry.metricsIntervalMs, serviceName: config.telemetry.serviceName, prometheus: true });
    closers.push(() => telemetry.shutdown()); // first in, last out: it flushes what shutdown itself recorded
    const instruments = createInstruments(telemetry.meter);

    let redis: RedisClient | undefined;
    if (config.redis.target) {
      const r = createRedisClient(config.redis.target, {
        commandTimeoutMs: config.redis.commandTimeoutMs,
        connectTimeoutMs: config.redis.connectTimeoutMs,
        logger,
      });
      redis = r;
      closers.push(() => r.quit().catch(() => r.disconnect()));
      // Not fatal: the cache serves from L1 and KMS behind its breaker until Redis answers.
      await waitForReady(r, { signal: AbortSignal.timeout(config.redis.connectTimeoutMs * 2) }).catch(() =>
        logger.warn('redis is not reachable at startup; serving from the in-process cache and KMS until it is'),
      );
    } else {
      logger.info('no Redis configured: the shared cache is in memory, in this process only');
    }

    const keyRing = config.cache.sealKeys
      ? parseKeyRing(config.cache.sealKeys, { namingKeyId: config.cache.namingKeyId, setting: 'SECRETS_GATEWAY_CACHE_SEAL_KEYS' })
      : generateKeyRing('local');
    if (redis && !config.cache.sealKeys) logger.warn('no SECRETS_GATEWAY_CACHE_SEAL_KEYS: using a key generated for this process, so other replicas cannot read what it writes');

    const { qps, burst, replicas } = config.kms.budget;
    // While Redis is down each replica keeps to its share, so the cluster stays within the quota.
    const share = new LocalTokenBucket({ qps: Math.max(1, qps / replicas), burst: Math.max(1, Math.floor(burst / replicas)) });
    const budget = redis ? new RedisTokenBucket(redis, { qps, burst, keyPrefix: prefix, fallback: share }) : undefined;
    const source =
      deps.source ??
      new KmsPool({
        config: config.kms,
        budget,
        logger: logger.child({ component: 'kms' }),
        onAttempt: (a) => instruments.kmsAttempts.add(1, { 'kms.target': a.targetId, 'kms.region': a.regionId, 'kms.action': 'GetSecretValue', 'kms.outcome': a.outcome }),
      });
    const tier = redis ? new RedisTier(redis, prefix) : new MemoryTier(new MemoryBackend(), prefix);
    const rejected = (channel: string) => (reason: string) => instruments.rejectedMessages.add(1, { channel, reason });
    const store = new SecretStore({
      source,
      tier,
      keyRing,
      config: { ...tuning, forcedRefreshMinIntervalMs: config.cache.forcedRefreshMinIntervalMs },
      logger: logger.child({ component: 'cache' }),
      onRejectedMessage: rejected('cache'),
    });
    closers.push(() => store.close());
    await store.ready({ signal: AbortSignal.timeout(config.redis.connectTimeoutMs * 2) }).catch(() => undefined);

    const namer = new KeyNamer(keyRing.namingKey, prefix);
    const bus = redis
      ? createRedisWatchBus({ redis, tagOf: (k) => namer.tag(k), keyPrefix: prefix })
      : createMemoryBus();
    const hub = createWatchHub({
      reader: store,
      bus,
      replicaId: deps.replicaId,
      pollIntervalMs: config.watch.pollIntervalMs,
      leaseMs: deps.watchLeaseMs,
      logger: logger.child({ component: 'watch' }),
    });
    closers.push(() => hub.close());

    const { access, credentials, policy } = await buildAccess(config, logger, closers);
    const service = createSecretsGatewayService({
      access,
      reader: store,
      watchHub: hub,
      logger,
      heartbeatMs: config.watch.heartbeatMs,
      telemetry: { tracer: telemetry.tracer, instruments },
      limits: { maxStreams: config.watch.maxStreams, maxStreamsPerCaller: config.watch.maxStreamsPerCaller },
    });
    const health = createHealth();
    const kmsHealth = 'health' in source && typeof source.health === 'function' ? () => (source as KmsPool).health() : () => [];
    const readiness = new Readiness({
      health,
      probes: {
        sharedCacheUp: () => !!redis && redis.status === 'ready' && store.stats().breaker !== 'open',
        kmsUp: () => {
          const targets = kmsHealth();
          // Out of rotation: the breaker open (bad answers) or ejected (unreachable, probe or not).
          return targets.length === 0 || targets.some((t) => t.state !== 'open' && t.state !== 'ejected' && t.state !== 'probing');
        },
        holdsEntries: () => store.holdsServable(),
      },
      onChange: (r) => logger[r.ready ? 'info' : 'warn'](r.ready ? 'ready' : 'not ready', { ...r }),
    });
    closers.push(() => readiness.close());
    closers.push(
      observeGateway(telemetry.meter, {
        coalescedReads: () => store.stats().coalescedReads,
        sharedTierBreaker: () => store.stats().breaker,
        kmsTargets: () => kmsHealth(),
        ...(budget ? { budgetTokens: () => Promise.all(config.kms.targets.map(async (t) => ({ id: t.id, tokens: (await budget.tokensLeft(t.id)) ?? 0 }))) } : {}),
        rotationsDetected: () => hub.stats().rotationsDetected,
        pollingKeys: () => {
          const h = hub.stats();
          return { polling: h.pollingKeys, degraded: h.degradedKeys };
        },
        ready: () => (readiness.ready ? 1 : 0),
      }),
    );
    let built;
    try {
      built = await buildServer(config.listen, service.impl, health, {
        channelOptions: {
          ...RECOMMENDED_SERVER_OPTIONS,
          'grpc.max_concurrent_streams': config.server.maxConcurrentStreams,
          'grpc.max_receive_message_length': config.server.maxReceiveMessageBytes,
        },
        credentials,
        reflection: config.auth.reflection,
        ...(config.mode === 'serve' ? { reflectionGate: access.gate } : {}),
      });
    } catch (e) {
      throw new ConfigError('SECRETS_GATEWAY_LISTEN', `cannot listen on ${config.listen.host}:${config.listen.port}: ${(e as Error).message}`);
    }
    const { server, port } = built;
    closers.push(() => server.forceShutdown());
    const admin = await startAdmin(config, logger, { readiness, ...(telemetry.metricsHandler ? { metrics: telemetry.metricsHandler } : {}) });
    closers.push(() => admin.close());
    deps.report?.({ port, adminPort: admin.port });
    // A reload that takes a right away ends the streams that relied on it.
    if (policy) {
      const off = policy.onChange(() => {
        const ended = service.recheckStreams();
        if (ended > 0) logger.info('policy reloaded: ended watch streams that lost their permission', { ended });
      });
      closers.push(off);
    }

    // Readiness waits for warm-up, so a rolling restart only sends traffic to warm replicas.
    const { secrets, concurrency, jitterMs } = config.cache.warmUp;
    if (secrets.length > 0) {
      const report = await warmUp(store, secrets.map((name) => ({ name })), { concurrency, jitterMs, logger });
      logger.info('warm-up done', { ...report });
    }
    readiness.serving();
    if (!config.auth.tls) {
      logger[config.mode === 'serve' ? 'warn' : 'info'](
        config.mode === 'serve' ? 'serving plaintext gRPC (SECRETS_GATEWAY_ALLOW_PLAINTEXT=true): secrets cross the network unencrypted' : 'dev mode: plaintext gRPC',
        { host: config.listen.host },
      );
    }
    if (config.auth.allowAllCallers) logger[config.mode === 'serve' ? 'warn' : 'info']('no policy: every caller may read every secret the gateway can read');
    logger.info('gateway listening', { mode: config.mode, host: config.listen.host, port, adminPort: admin.port, tls: !!config.auth.tls, mtls: !!config.auth.tls?.clientCaFile, configFile: config.configFile, kmsTargets: config.kms.targets.map((t) => t.id) });

    let stopping: Promise<void> | undefined;
    const shutdown = () =>
      (stopping ??= (async () => {
        logger.info('gateway stopping');
        readiness.drain();
        await service.endAllStreams();
        const drained = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), config.shutdownGraceMs);
          server.tryShutdown(() => {
            clearTimeout(timer);
            resolve(true);
          });
        });
        if (!drained) {
          logger.warn('graceful shutdown timed out; closing remaining calls', { graceMs: config.shutdownGraceMs });
          server.forceShutdown();
        }
        await closeAll();
        logger.info('gateway stopped');
      })());
    return { port, adminPort: admin.port, shutdown };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
