/** Real grpc-js clients for the tests: the gateway's own, health, and server reflection. */
import { join, dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { SecretsGatewayServiceClient } from '../../src/gen/secretsgateway/v1/secrets_gateway';

const reflectionProto = join(dirname(require.resolve('@grpc/reflection/package.json')), 'build', 'proto', 'grpc', 'reflection', 'v1', 'reflection.proto');

function load(path: string, includeDir: string): grpc.GrpcObject {
  return grpc.loadPackageDefinition(protoLoader.loadSync(path, { includeDirs: [includeDir], keepCase: true, enums: String, defaults: true, oneofs: true }));
}

type Ctor = new (address: string, creds: grpc.ChannelCredentials) => grpc.Client;
const lookup = (obj: grpc.GrpcObject, path: string): Ctor =>
  path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], obj) as Ctor;

export function gatewayClient(port: number): SecretsGatewayServiceClient {
  return new SecretsGatewayServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}

type HealthClient = grpc.Client & { check(req: { service: string }, cb: (e: grpc.ServiceError | null, r?: { status: string }) => void): void };

export function healthClient(port: number): HealthClient {
  const Health = lookup(load(healthProtoPath, dirname(healthProtoPath)), 'grpc.health.v1.Health');
  return new Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as never;
}

/** One Health/Check of the overall service over the given credentials: its status, or the error's code. */
export async function healthWith(target: string, creds: grpc.ChannelCredentials): Promise<string | number> {
  const Health = lookup(load(healthProtoPath, dirname(healthProtoPath)), 'grpc.health.v1.Health');
  const c = new Health(target, creds) as HealthClient;
  try {
    return await new Promise((resolve) => c.check({ service: '' }, (e, r) => resolve(e ? e.code : (r?.status ?? ''))));
  } finally {
    c.close();
  }
}

/** Lists the services the server reports through gRPC reflection v1. */
export function listServices(port: number): Promise<string[]> {
  return listServicesWith(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}

export async function listServicesWith(target: string, creds: grpc.ChannelCredentials): Promise<string[]> {
  const Reflection = lookup(load(reflectionProto, dirname(reflectionProto)), 'grpc.reflection.v1.ServerReflection');
  const client = new Reflection(target, creds) as grpc.Client & {
    ServerReflectionInfo(): grpc.ClientDuplexStream<unknown, { list_services_response?: { service: { name: string }[] } }>;
  };
  try {
    return await new Promise<string[]>((resolve, reject) => {
      const call = client.ServerReflectionInfo();
      call.on('data', (r) => {
        resolve((r.list_services_response?.service ?? []).map((s: { name: string }) => s.name));
        call.end();
      });
      call.on('error', reject);
      call.write({ list_services: '' });
    });
  } finally {
    client.close();
  }
}
