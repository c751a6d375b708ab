import {
  Metadata,
  Server,
  ServerCredentials,
  ServerInterceptingCall,
  ServerListenerBuilder,
  ResponderBuilder,
  status,
  type ServerInterceptor,
  type sendUnaryData,
  type ServerWritableStream,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import type { HostPort } from '../config/parsers';
import type { CallerGate } from '../auth/gate';
import { GATEWAY_SERVICE_DEFINITION } from './answerWire';
import { addReflection } from './reflection';
import { toStatus } from './status';

export const SERVICE_NAME = 'secretsgateway.v1.SecretsGatewayService';

/** The health state served as grpc.health.v1: one value, created by the composition root. */
export function createHealth(): HealthImplementation {
  return new HealthImplementation({ '': 'NOT_SERVING', [SERVICE_NAME]: 'NOT_SERVING' });
}

export function setServing(health: HealthImplementation, serving: boolean): void {
  const s = serving ? 'SERVING' : 'NOT_SERVING';
  health.setStatus('', s);
  health.setStatus(SERVICE_NAME, s);
}

/**
 * Handlers that answer UNIMPLEMENTED until the service itself exists. They say so plainly rather
 * than pretending to serve.
 */
export function unimplementedService(): UntypedServiceImplementation {
  const unimplemented = { code: status.UNIMPLEMENTED, details: 'not implemented yet' };
  return {
    getSecret: (_call: unknown, callback: sendUnaryData<unknown>) => callback(unimplemented),
    watchSecret: (call: ServerWritableStream<unknown, unknown>) => call.emit('error', unimplemented),
  };
}

export interface ServerOptions {
  /** grpc-js channel options (keepalive, message sizes, …). */
  channelOptions?: Record<string, number | string>;
  /** TLS (auth/tls.ts). @default plaintext */
  credentials?: ServerCredentials;
  /** Serve gRPC reflection. @default true */
  reflection?: boolean;
  /** When set, reflection answers only callers this gate authenticates (the schema is not public in serve). */
  reflectionGate?: CallerGate;
}

/**
 * Authenticates reflection calls with the service's own gate: a caller that could not call the
 * service does not get its schema either. Health stays open for kubelet probes.
 */
function reflectionAuth(gate: CallerGate): ServerInterceptor {
  return (method, call) => {
    // Every other call passes through untouched, no wrapper of its own on the hot path. grpc-js
    // chains interceptors through the interface; its type names the class, hence the cast.
    if (!method.path.startsWith('/grpc.reflection.')) return call as ServerInterceptingCall;
    const listener = new ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        gate
          .authenticate({ metadata, getPeer: () => call.getPeer(), getAuthContext: () => call.getAuthContext() })
          .then(
            () => next(metadata),
            (err: unknown) => call.sendStatus({ ...toStatus(err), metadata: new Metadata() }),
          );
      })
      .build();
    return new ServerInterceptingCall(call, new ResponderBuilder().withStart((next) => next(listener)).build());
  };
}

/** Builds a grpc-js server with the gateway service, health and reflection, and binds it. */
export async function buildServer(
  listen: HostPort,
  impl: UntypedServiceImplementation,
  health: HealthImplementation,
  opts: ServerOptions = {},
): Promise<{ server: Server; port: number }> {
  const server = new Server({ ...opts.channelOptions, ...(opts.reflectionGate ? { interceptors: [reflectionAuth(opts.reflectionGate)] } : {}) });
  server.addService(GATEWAY_SERVICE_DEFINITION, impl);
  health.addToServer(server);
  if (opts.reflection ?? true) addReflection(server);
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${listen.port}`, opts.credentials ?? ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { server, port };
}
