/**
 * A benchmark target in its own process: `echo` (a bare grpc-js unary server, the baseline) or
 * `gateway` (the dev gateway: emulator + in-memory shared cache). Prints its port on stdout.
 */
import { Server, ServerCredentials, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import { startDev } from '../src/cli/dev';
import { loadConfig } from '../src/config/load';
import { silentLogger } from '../src/telemetry/logger';
import { ECHO_SERVICE } from './echo';


async function main() {
  const kind = process.argv[2];
  if (kind === 'echo') {
    const server = new Server();
    // The reply is as large as a typical GetSecret answer, so the two differ only by the work done.
    const reply = Buffer.alloc(220, 0x61);
    server.addService(ECHO_SERVICE, { echo: (_c: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) => cb(null, reply) });
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    process.stdout.write(`${port}\n`);
  } else if (kind === 'gateway') {
    const config = loadConfig({ mode: 'dev', env: { SECRETS_GATEWAY_LISTEN: '127.0.0.1:0', SECRETS_GATEWAY_LOG_LEVEL: 'error' } });
    const dev = await startDev(config, silentLogger, 0);
    process.stdout.write(`${dev.gateway.port}\n`);
  } else throw new Error('usage: server.ts echo|gateway');
}

void main();
