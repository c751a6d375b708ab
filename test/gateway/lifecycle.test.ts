/** The composed gateway's shutdown order, as clients see it. */
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import test from 'ava';
import { gatewayClient, healthClient } from '../helpers/grpc';
import { startDevGateway, TEXT } from '../helpers/conformance';

test('shutdown: health goes NOT_SERVING first, then watch streams end UNAVAILABLE "server shutting down", then the port closes', async (t) => {
  const dev = await startDevGateway(t);
  const port = dev.gateway.port;
  const events: string[] = [];

  const health = healthClient(port) as unknown as { watch(req: { service: string }): NodeJS.EventEmitter & { cancel(): void }; close(): void };
  const hw = health.watch({ service: '' });
  hw.on('data', (m: { status: string }) => events.push(`health:${m.status}`));
  hw.on('error', () => undefined);

  const client = gatewayClient(port);
  t.teardown(() => client.close());
  const stream = client.watchSecret({ name: TEXT, versionStage: '', regionId: '', lastVersionId: '' }, new Metadata());
  const ended = new Promise<ServiceError>((resolve) => stream.on('error', resolve));
  await new Promise((resolve) => stream.once('data', resolve));
  stream.on('data', () => undefined);
  for (let i = 0; !events.includes('health:SERVING'); i++) {
    if (i > 200) t.fail(`health watch never said SERVING: ${events.join(' ')}`);
    await new Promise((r) => setTimeout(r, 25));
  }

  const done = dev.gateway.shutdown();
  const err = await ended;
  events.push(`stream:${status[err.code]}`);
  hw.cancel(); // an open health Watch would hold the graceful drain until the grace period forces it
  health.close();
  await done;

  t.is(err.code, status.UNAVAILABLE);
  t.is(err.details, 'server shutting down');
  t.true(events.indexOf('health:NOT_SERVING') >= 0 && events.indexOf('health:NOT_SERVING') < events.indexOf('stream:UNAVAILABLE'), events.join(' → '));

  const after = await new Promise<ServiceError | null>((resolve) =>
    client.getSecret({ name: TEXT, versionStage: '', versionId: '', regionId: '', fetchExtendedConfig: false }, new Metadata(), { deadline: Date.now() + 2000 }, (e) => resolve(e)),
  );
  t.is(after?.code, status.UNAVAILABLE, 'nothing listens after shutdown');
});
