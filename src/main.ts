/**
 * The composition root: build everything from the config, start it, and stop it in order.
 * Nothing here holds business rules; tests run the whole gateway through `startGateway` on port 0.
 */
import type { GatewayConfig } from './config/types';
import { ConfigError } from './errors';
import { buildServer, createHealth, setServing, unimplementedService } from './server/server';
import { createLogger, type Logger } from './telemetry/logger';

export interface GatewayDeps {
  logger?: Logger;
}

export interface RunningGateway {
  /** The bound gRPC port (useful with port 0). */
  port: number;
  /** Stops in order: health NOT_SERVING, bounded graceful drain, force close. Idempotent. */
  shutdown(): Promise<void>;
}

export async function startGateway(config: GatewayConfig, deps: GatewayDeps = {}): Promise<RunningGateway> {
  const logger = deps.logger ?? createLogger({ level: config.logLevel });
  const health = createHealth();
  let built;
  try {
    built = await buildServer(config.listen, unimplementedService(), health);
  } catch (e) {
    throw new ConfigError('SECRETS_GATEWAY_LISTEN', `cannot listen on ${config.listen.host}:${config.listen.port}: ${(e as Error).message}`);
  }
  const { server, port } = built;
  setServing(health, true);
  logger.info('gateway listening', { mode: config.mode, host: config.listen.host, port, configFile: config.configFile });

  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    (stopping ??= (async () => {
      logger.info('gateway stopping');
      setServing(health, false);
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
      logger.info('gateway stopped');
    })());
  return { port, shutdown };
}
