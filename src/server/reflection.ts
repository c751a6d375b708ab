import { resolve } from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import type { Server } from '@grpc/grpc-js';
import { protoPath as healthProtoPath } from 'grpc-health-check';

/** The proto directory shipped with the package (`src/server` and `dist/server` are both two levels down). */
export const PROTO_DIR = resolve(__dirname, '..', '..', 'proto');
export const GATEWAY_PROTO = 'secretsgateway/v1/secrets_gateway.proto';

/**
 * Serves gRPC server reflection (v1 and v1alpha) for SecretsGatewayService and grpc.health.v1, so
 * `grpcurl 127.0.0.1:50051 list` and `describe` work without a local copy of the proto.
 * Reflection needs the .proto source at runtime; ts-proto output alone is not enough.
 */
export function addReflection(server: Server): void {
  const pkg = protoLoader.loadSync([GATEWAY_PROTO, healthProtoPath], {
    includeDirs: [PROTO_DIR],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  new ReflectionService(pkg).addToServer(server);
}
