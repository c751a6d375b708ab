/**
 * The SecretsGatewayService implementation, built from its dependencies by the composition root:
 *
 *   const hub = createWatchHub({ reader, bus, pollIntervalMs, … });
 *   const svc = createSecretsGatewayService({ reader, watchHub: hub, logger, heartbeatMs, limits });
 *   await buildServer(listen, svc.impl, health, { channelOptions: RECOMMENDED_SERVER_OPTIONS });
 *   …on SIGTERM: setServing(health, false); await svc.endAllStreams(); tryShutdown…; await hub.close();
 */
import type { handleUnaryCall } from '@grpc/grpc-js';
import type { GetSecretRequest, SecretsGatewayServiceServer } from '../../gen/secretsgateway/v1/secrets_gateway';
import { AnswerEncoder, type GetSecretAnswer } from '../answerWire';
import { ConfigError } from '../../errors';
import { silentLogger, type Logger } from '../../telemetry/logger';
import type { WatchHub } from '../../watch/hub';
import type { SecretReader } from '../../watch/reader';
import { CallerGate } from '../../auth/gate';
import { StreamLimits, type StreamLimitOptions } from '../limits';
import type { AccessDeps } from './access';
import { instrumentGetSecret, instrumentWatchSecret, noteValidatedName, type ServerTelemetry } from '../instrument';
import { createGetSecretHandler } from './getSecret';
import { StreamRegistry } from './shutdown';
import { createWatchSecretHandler } from './watchSecret';
import { defaultOf, rangeOf } from '../../config/settings';

export interface SecretsGatewayServiceOptions {
  /** The cache (cache/ SecretStore satisfies it). */
  reader: SecretReader;
  watchHub: WatchHub;
  logger?: Logger;
  /** Idle time on a watch stream before a Heartbeat is sent. @default setting SECRETS_GATEWAY_WATCH_HEARTBEAT_MS */
  heartbeatMs?: number;
  limits?: StreamLimitOptions;
  /**
   * Authentication, policy, per-caller rate limits and audit. @default every caller allowed,
   * identified by peer address, no rate limits, no audit (tests of other concerns).
   */
  access?: AccessDeps;
  /** Spans and request metrics for both RPCs. @default none */
  telemetry?: ServerTelemetry;
}

/** The implementation as registered by `buildServer`: GetSecret may answer with bytes already encoded (answerWire.ts). */
export type GatewayServiceImpl = Omit<SecretsGatewayServiceServer, 'getSecret'> & { getSecret: handleUnaryCall<GetSecretRequest, GetSecretAnswer> };

export interface SecretsGatewayService {
  /** Pass to `buildServer`. */
  impl: GatewayServiceImpl;
  /**
   * Ends every open watch stream with UNAVAILABLE "server shutting down", refuses new ones the
   * same way, and resolves when their handlers have finished. Call after health NOT_SERVING and
   * before tryShutdown.
   */
  endAllStreams(): Promise<void>;
  /** Open WatchSecret streams on this replica. */
  streamCount(): number;
  /** After a policy reload: ends the open streams whose caller lost the right, with PERMISSION_DENIED. */
  recheckStreams(): number;
  /** GetSecret answers sent from bytes encoded for an earlier call (cumulative; metric secretsgateway.rpc.preencoded_answers). */
  preencodedAnswers(): number;
}

export function createSecretsGatewayService(opts: SecretsGatewayServiceOptions): SecretsGatewayService {
  const heartbeatMs = opts.heartbeatMs ?? defaultOf('SECRETS_GATEWAY_WATCH_HEARTBEAT_MS');
  const [minBeat, maxBeat] = rangeOf('SECRETS_GATEWAY_WATCH_HEARTBEAT_MS');
  if (!Number.isFinite(heartbeatMs) || heartbeatMs < minBeat || heartbeatMs > maxBeat) {
    throw new ConfigError('watch.heartbeatMs', `must be a number ${minBeat}–${maxBeat}`);
  }
  const limits = new StreamLimits(opts.limits);
  for (const [name, v] of [['maxStreams', limits.maxStreams], ['maxStreamsPerCaller', limits.maxStreamsPerCaller]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new ConfigError(`watch.${name}`, 'must be a non-negative integer');
  }
  const logger = opts.logger ?? silentLogger;
  const registry = new StreamRegistry();
  const tel = opts.telemetry;
  const given = opts.access ?? { gate: new CallerGate({ acceptCertificates: false, requireCertificate: false }) };
  const access: typeof given = tel
    ? {
        ...given,
        onDecision: (d) => {
          given.onDecision?.(d);
          tel.instruments.authzDecisions.add(1, { 'rpc.method': d.method, decision: d.decision, reason: d.reason });
          if (d.reason === 'rate_limited') tel.instruments.rateLimited.add(1, { 'rpc.method': d.method });
        },
      }
    : given;
  const instrumented = {
    getSecret: <H extends Parameters<typeof instrumentGetSecret>[1]>(h: H) => (tel ? instrumentGetSecret(tel, h) : h),
    watchSecret: <H extends Parameters<typeof instrumentWatchSecret>[1]>(h: H) => (tel ? instrumentWatchSecret(tel, h) : h),
  };
  const encoder = new AnswerEncoder(tel ? () => tel.instruments.preencodedAnswers.add(1) : undefined);
  const getSecret = createGetSecretHandler({ reader: opts.reader, logger, access, encoder, ...(tel ? { onValidatedName: noteValidatedName } : {}) });
  return {
    impl: {
      getSecret: instrumented.getSecret(getSecret),
      watchSecret: instrumented.watchSecret(
        createWatchSecretHandler({
          hub: opts.watchHub,
          logger,
          heartbeatMs,
          limits,
          access,
          registry,
          ...(tel ? { onPushed: (ms: number) => tel.instruments.pushLatency.record(ms) } : {}),
        }),
      ),
    },
    endAllStreams: () => registry.endAll(),
    streamCount: () => registry.size,
    recheckStreams: () => registry.recheckAll(),
    preencodedAnswers: () => encoder.reusedAnswers,
  };
}
