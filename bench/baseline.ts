/**
 * The baseline: a logic-free server of the gateway's own contract
 * (proto/secretsgateway/v1/secrets_gateway.proto), built the way a grpc-js user would:
 * `@grpc/proto-loader` + `loadPackageDefinition`, a handler that answers GetSecret with one fixed
 * GetSecretResponse shaped and sized like the gateway's answer for the demo secret. Run as its own
 * process (`node --import tsx bench/baseline.ts [TLS_DIR]`; it prints its port); with a TLS dir it
 * serves mTLS, requiring a client certificate signed by that dir's CA, as the gateway's mTLS does.
 * WatchSecret sends the same answer once as a Secret event and then holds the stream open until the
 * client leaves: the floor any grpc-js server pays per idle stream (bench/streamMemory.ts).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { track } from '../test/helpers/children';
import type { TlsFiles } from './material';

const PROTO = join(__dirname, '..', 'proto', 'secretsgateway', 'v1', 'secrets_gateway.proto');
const DAY_S = 86_400;

/** The demo answer for demo/db-password (v2, ACSCurrent), as proto-loader's plain-object shape. */
function fixedAnswer(nowMs: number): unknown {
  const ts = (ms: number) => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 });
  return {
    secret: {
      name: 'demo/db-password',
      versionId: 'v2',
      versionStages: ['ACSCurrent'],
      stringValue: 's3cr3t-passw0rd',
      secretType: 'Generic',
      createTime: { seconds: Math.floor(nowMs / 1000) - 2 * DAY_S, nanos: 0 },
      automaticRotation: false,
      extendedConfig: '',
      regionId: 'cn-hangzhou',
    },
    freshness: { source: 'SOURCE_LOCAL_CACHE', checkedAt: ts(nowMs) },
  };
}

async function serve(tlsDir: string | undefined): Promise<number> {
  const def = protoLoader.loadSync(PROTO, { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true, includeDirs: [join(__dirname, '..', 'proto')] });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { secretsgateway: { v1: { SecretsGatewayService: grpc.ServiceClientConstructor } } };
  const answer = fixedAnswer(Date.now());
  const server = new grpc.Server();
  server.addService(pkg.secretsgateway.v1.SecretsGatewayService.service, {
    GetSecret: (_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, answer),
    WatchSecret: (call: grpc.ServerWritableStream<unknown, unknown>) => {
      const { secret, freshness } = answer as { secret: unknown; freshness: unknown };
      call.write({ secret, freshness });
    },
  });
  const creds = tlsDir
    ? grpc.ServerCredentials.createSsl(readFileSync(join(tlsDir, 'ca.crt')), [{ cert_chain: readFileSync(join(tlsDir, 'tls.crt')), private_key: readFileSync(join(tlsDir, 'tls.key')) }], true)
    : grpc.ServerCredentials.createInsecure();
  return new Promise((resolve, reject) => server.bindAsync('127.0.0.1:0', creds, (e, port) => (e ? reject(e) : resolve(port))));
}

export interface BaselineProcess {
  port: number;
  pid: number;
  stop(): void;
}

/** Starts the baseline in its own process; plaintext, or mTLS with `tls`; `nodeFlags` go to its node (e.g. a heap-snapshot signal). */
export function startBaseline(tls?: TlsFiles, nodeFlags: string[] = []): Promise<BaselineProcess> {
  const child = track(spawn(process.execPath, [...nodeFlags, '--import', 'tsx', __filename, ...(tls ? [tls.dir] : [])], { stdio: ['ignore', 'pipe', 'inherit'] }));
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve({ port: Number(d.toString().trim()), pid: child.pid!, stop: () => child.kill('SIGKILL') }));
    child.once('exit', (code) => reject(new Error(`baseline exited ${code}`)));
  });
}

if (require.main === module) {
  serve(process.argv[2]).then(
    (port) => process.stdout.write(`${port}\n`),
    (e: Error) => {
      process.stderr.write(`baseline: ${e.message}\n`);
      process.exit(1);
    },
  );
}
