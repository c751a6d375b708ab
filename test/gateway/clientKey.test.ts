/**
 * The whole gateway configured only with `cache_client_dkms_config_info`, exactly as an operator
 * writes it (files on disk, the instance CA pinned), against an emulated dedicated instance:
 * GetSecret serves text and binary secrets with rotation metadata, WatchSecret delivers a
 * rotation, and a redaction scan over debug logs, errors, gRPC status details and spans finds
 * neither the private key, the password nor any signature the gateway sent.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Metadata, type ServiceError } from '@grpc/grpc-js';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import test from 'ava';
import { loadConfig } from '../../src/config/load';
import { GetSecretValueRequest } from '../../src/gen/dkms/v1/instance_api';
import type { GetSecretResponse, WatchSecretResponse } from '../../src/gen/secretsgateway/v1/secrets_gateway';
import { parseClientKey } from '../../src/kms/clientKey';
import { signedHeaders } from '../../src/kms/instanceSign';
import { startGateway } from '../../src/main';
import { createLogger } from '../../src/telemetry/logger';
import { startTelemetry } from '../../src/telemetry/otel';
import { isoDaysFromNow } from '../helpers/clock';
import { gatewayClient } from '../helpers/grpc';
import { clientKeyTarget, startEmulator } from '../helpers/kms';

const INSTANCE = 'kst-hzz65f1a2b3c4d5e6';
const TEXT = 'SENTINEL-gw-text-value-0b7d';
const BINARY = Buffer.from([9, 8, 7, 0, 255, 254]);
const seed = {
  secrets: [
    { name: 'app/text', versions: [{ versionId: 'v1', stages: ['ACSCurrent'], text: TEXT }] },
    { name: 'app/binary', versions: [{ versionId: 'b1', stages: ['ACSCurrent'], binaryBase64: BINARY.toString('base64') }] },
    {
      name: 'app/rds',
      type: 'Rds',
      automaticRotation: true,
      rotationInterval: '86400s',
      lastRotationDate: isoDaysFromNow(-1),
      nextRotationDate: isoDaysFromNow(1),
      extendedConfig: { SecretSubType: 'SingleUser' },
      versions: [{ versionId: 'r1', stages: ['ACSCurrent'], text: '{"AccountName":"app","AccountPassword":"SENTINEL-rds-pw"}' }],
    },
  ],
};

test('a gateway configured only with cache_client_dkms_config_info serves, watches, and leaks no key, password or signature', async (t) => {
  const emu = await startEmulator(t, { seed, instances: [INSTANCE] });
  const fx = await clientKeyTarget(t, emu);
  writeFileSync(join(fx.dir, 'PrivateKmsCA_kst.pem'), emu.caPem!);
  const entry = { regionId: 'cn-hangzhou', endpoint: emu.instances[INSTANCE]!.endpoint, clientKeyFile: fx.clientKeyFile, passwordFromFilePath: fx.passwordFile, caFilePath: 'PrivateKmsCA_kst.pem' };
  const config = loadConfig({
    mode: 'dev',
    cwd: fx.dir,
    env: {
      cache_client_dkms_config_info: JSON.stringify([entry]),
      SECRETS_GATEWAY_LISTEN: '127.0.0.1:0',
      SECRETS_GATEWAY_WATCH_POLL_INTERVAL_MS: '500',
      SECRETS_GATEWAY_WATCH_HEARTBEAT_MS: '300',
      SECRETS_GATEWAY_LOG_LEVEL: 'debug',
    },
  });
  t.deepEqual(config.kms.targets.map((x) => x.kind), ['dedicated']);
  const lines: string[] = [];
  const spans = new InMemorySpanExporter();
  const telemetry = startTelemetry({ spanProcessor: new SimpleSpanProcessor(spans) });
  const gw = await startGateway(config, { logger: createLogger({ level: 'debug', sink: (l) => lines.push(l) }), telemetry });
  t.teardown(() => gw.shutdown());
  const client = gatewayClient(gw.port);
  t.teardown(() => client.close());
  const get = (name: string) =>
    new Promise<GetSecretResponse | ServiceError>((resolve) =>
      client.getSecret({ name, versionStage: '', versionId: '', regionId: '', fetchExtendedConfig: true }, new Metadata(), { deadline: Date.now() + 10_000 }, (e, r) => resolve(e ?? r!)),
    );

  const text = (await get('app/text')) as GetSecretResponse;
  t.is(text.secret?.stringValue, TEXT);
  t.is(text.secret?.versionId, 'v1');
  const bin = (await get('app/binary')) as GetSecretResponse;
  t.deepEqual(Buffer.from(bin.secret!.binaryValue!), BINARY);
  const rds = (await get('app/rds')) as GetSecretResponse;
  t.like(rds.secret, { secretType: 'Rds', automaticRotation: true });
  t.is(rds.secret!.nextRotationTime!.getTime(), Date.parse(seed.secrets[2]!.nextRotationDate!));
  t.is(rds.secret!.lastRotationTime!.getTime(), Date.parse(seed.secrets[2]!.lastRotationDate!));
  const missing = (await get('app/missing')) as ServiceError;
  t.is(missing.code, 5, 'NOT_FOUND');
  t.is(emu.counters('cn-hangzhou').GetSecretValue ?? 0, 0, 'every read went to the instance');
  t.is(emu.requestLog().filter((e) => e.signatureVersion === 'rsa').length, emu.requestLog().length);

  // WatchSecret: the first message is the current version, then a rotation arrives.
  const stream = client.watchSecret({ name: 'app/text', versionStage: '', regionId: '', lastVersionId: '' }, new Metadata());
  t.teardown(() => stream.cancel());
  stream.on('error', () => undefined);
  const versions: string[] = [];
  const rotated = new Promise<void>((resolve) =>
    stream.on('data', (m: WatchSecretResponse) => {
      if (m.secret) versions.push(m.secret.versionId);
      if (versions.length === 1 && m.secret) emu.store.rotateSecret('app/text', { versionId: 'v2' });
      if (versions.includes('v2')) resolve();
    }),
  );
  await rotated;
  t.deepEqual(versions, ['v1', 'v2']);
  stream.cancel();

  // A KMS failure's message and status on the way out.
  emu.faults.set(INSTANCE, { errorCode: 'Forbidden.NoPermission', httpStatus: 403 });
  const denied = (await get('app/other')) as ServiceError;
  t.is(denied.code, 7, 'PERMISSION_DENIED');
  emu.faults.clear();
  const finished = spans.getFinishedSpans(); // read before shutdown, which empties the exporter
  const spanText = JSON.stringify(finished.map((s) => ({ name: s.name, attributes: s.attributes, events: s.events, status: s.status })));
  await gw.shutdown();

  // The secrets of the ClientKey: its key (PEM and the PKCS#12 blob), the password, and every
  // signature the gateway sent. RSA PKCS#1 v1.5 is deterministic and the Date header has whole
  // seconds, so recomputing each request for every second the test ran covers them all.
  const key = parseClientKey(fx.minted.clientKeyJson, fx.minted.password);
  const pem = key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const privateKeyData = (JSON.parse(fx.minted.clientKeyJson) as { PrivateKeyData: string }).PrivateKeyData;
  const sentinels = [fx.minted.password, pem.split('\n')[1]!, privateKeyData.slice(100, 160)];
  const byName = new Set(['app/text', 'app/binary', 'app/rds', 'app/missing', 'app/other']);
  const started = Date.parse(emu.requestLog()[0]!.time);
  for (let at = started - 2000; at <= Date.now() + 1000; at += 1000) {
    for (const [name, ext] of [...byName.keys()].flatMap((n) => [[n, true], [n, false]] as const)) {
      const body = GetSecretValueRequest.encode({ secretName: name, versionStage: 'ACSCurrent', versionId: '', fetchExtendedConfig: ext }).finish();
      const h = signedHeaders({ apiName: 'GetSecretValue', keyId: key.keyId, body, host: entry.endpoint, now: at, userAgent: 'secrets-gateway' }, key.privateKey);
      sentinels.push(h.authorization!.slice('Bearer '.length, 'Bearer '.length + 40));
    }
  }
  const haystack = [lines.join('\n'), spanText, denied.details, missing.details, JSON.stringify(config), emu.requestLog().map((e) => JSON.stringify(e)).join('\n')].join('\n');
  t.true(lines.some((l) => l.includes('"msg":"KMS attempt failed"')), 'the failure was logged');
  t.true(finished.length >= 5, `${finished.length} spans`);
  for (const s of sentinels) t.false(haystack.includes(s), `leaked: ${s.slice(0, 12)}…`);
  t.false(haystack.includes('PRIVATE KEY'));
});
