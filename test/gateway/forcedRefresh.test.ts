/** max_staleness cannot be used to spend the cluster's KMS quota: forced refreshes are floored. */
import { Metadata } from '@grpc/grpc-js';
import test from 'ava';
import { startDevGateway, TEXT } from '../helpers/conformance';
import { gatewayClient } from '../helpers/grpc';

test('max_staleness=0s in a tight loop: one KMS call per secret (and per missing name) per floor interval', async (t) => {
  const dev = await startDevGateway(t, { SECRETS_GATEWAY_FORCED_REFRESH_MIN_INTERVAL_MS: '60000' });
  const client = gatewayClient(dev.gateway.port);
  t.teardown(() => client.close());
  const forced = (name: string) =>
    new Promise<number>((resolve) =>
      client.getSecret(
        { name, versionStage: '', versionId: '', regionId: '', fetchExtendedConfig: false, maxStaleness: { seconds: 0, nanos: 0 } },
        new Metadata(),
        (e) => resolve(e?.code ?? 0),
      ),
    );
  const codes = [];
  for (let i = 0; i < 20; i++) codes.push(await forced(TEXT), await forced('demo/not-there'));
  t.deepEqual([...new Set(codes)].sort(), [0, 5], 'values answered, missing names NOT_FOUND');
  t.is(dev.emulator!.counters().GetSecretValue, 2, '40 forced reads cost 2 KMS calls');
});
