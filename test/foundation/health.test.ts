import test from 'ava';
import { status } from '@grpc/grpc-js';
import { loadConfig } from '../../src/config/load';
import { startGateway } from '../../src/main';
import { silentLogger } from '../../src/telemetry/logger';
import { gatewayClient, healthClient, listServices } from '../helpers/grpc';

async function start(t: import('ava').ExecutionContext) {
  const config = loadConfig({ mode: 'dev', env: {}, overrides: { SECRETS_GATEWAY_LISTEN: '127.0.0.1:0' } });
  const gw = await startGateway(config, { logger: silentLogger });
  t.teardown(() => gw.shutdown());
  return gw;
}

test('health Check answers SERVING for the server and for SecretsGatewayService', async (t) => {
  const gw = await start(t);
  const health = healthClient(gw.port);
  t.teardown(() => health.close());
  for (const service of ['', 'secretsgateway.v1.SecretsGatewayService']) {
    const res = await new Promise<{ status: string }>((resolve, reject) => health.check({ service }, (e, r) => (e ? reject(e) : resolve(r!))));
    t.is(res.status, 'SERVING', `service ${JSON.stringify(service)}`);
  }
  const unknown = await new Promise<{ code?: number }>((resolve) => health.check({ service: 'nope.Nope' }, (e) => resolve(e ?? {})));
  t.is(unknown.code, status.NOT_FOUND);
});

test('reflection lists the gateway and health services', async (t) => {
  const gw = await start(t);
  const services = await listServices(gw.port);
  t.true(services.includes('secretsgateway.v1.SecretsGatewayService'), services.join(','));
  t.true(services.includes('grpc.health.v1.Health'), services.join(','));
});

test('shutdown flips health to NOT_SERVING and closes the port', async (t) => {
  const gw = await start(t);
  await gw.shutdown();
  const health = healthClient(gw.port);
  t.teardown(() => health.close());
  const err = await new Promise<{ code?: number }>((resolve) =>
    health.check({ service: '' }, (e) => resolve(e ?? {})),
  );
  t.is(err.code, status.UNAVAILABLE);
});

test('without any KMS target, GetSecret answers UNAVAILABLE rather than hanging or crashing', async (t) => {
  const gw = await start(t);
  const client = gatewayClient(gw.port);
  t.teardown(() => client.close());
  const err = await new Promise<{ code?: number; details?: string }>((resolve) =>
    client.getSecret({ name: 'x', versionStage: '', versionId: '', regionId: '', fetchExtendedConfig: false }, (e) => resolve(e ?? {})),
  );
  t.is(err.code, status.UNAVAILABLE);
  t.regex(err.details ?? '', /no KMS target is configured/);
});
