/**
 * The conformance scenario driven by a grpc-js client (the generated ts-proto client), printing
 * the same JSON steps as examples/python and examples/go. Run as a child process by the tests.
 */
import { createHash } from 'node:crypto';
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import {
  SecretsGatewayServiceClient,
  type GetSecretRequest,
  type GetSecretResponse,
  type Secret,
  type WatchSecretResponse,
} from '../../src/gen/secretsgateway/v1/secrets_gateway';

const [target, textName, binaryName] = process.argv.slice(2) as [string, string, string];
const client = new SecretsGatewayServiceClient(target, credentials.createInsecure());
const emit = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');
const req = (name: string, more: Partial<GetSecretRequest> = {}): GetSecretRequest => ({ name, versionStage: '', versionId: '', regionId: '', fetchExtendedConfig: false, ...more });
const describe = (s: Secret) => ({
  event: 'secret',
  name: s.name,
  version_id: s.versionId,
  kind: s.binaryValue !== undefined ? 'binary_value' : 'string_value',
  sha256: createHash('sha256').update(s.binaryValue ?? Buffer.from(s.stringValue ?? '')).digest('hex'),
});
const get = (r: GetSecretRequest) =>
  new Promise<GetSecretResponse>((resolve, reject) => client.getSecret(r, new Metadata(), { deadline: Date.now() + 10_000 }, (e, v) => (e ? reject(e) : resolve(v!))));

async function expectError(r: GetSecretRequest, step: string) {
  try {
    await get(r);
    emit({ step, ok: false });
  } catch (e) {
    const err = e as ServiceError;
    emit({ step, ok: true, code: status[err.code], details: err.details });
  }
}

/** Opens a watch and resolves with messages until `until` says stop. */
function watch(lastVersionId: string, until: (m: WatchSecretResponse, n: number) => boolean): Promise<WatchSecretResponse[]> {
  return new Promise((resolve, reject) => {
    const call = client.watchSecret({ name: textName, versionStage: '', regionId: '', lastVersionId }, new Metadata(), { deadline: Date.now() + 60_000 });
    const seen: WatchSecretResponse[] = [];
    call.on('data', (m: WatchSecretResponse) => {
      seen.push(m);
      if (until(m, seen.length)) {
        call.cancel();
        resolve(seen);
      }
    });
    call.on('error', (e: ServiceError) => (e.code === status.CANCELLED ? undefined : reject(e)));
  });
}

const first = (m: WatchSecretResponse) => (m.secret ? describe(m.secret) : { event: 'heartbeat', version_id: m.heartbeat?.versionId });

async function main() {
  const text = await get(req(textName));
  emit({ step: 'get-text', ok: true, ...describe(text.secret!) });
  const bin = await get(req(binaryName));
  emit({ step: 'get-binary', ok: true, ...describe(bin.secret!) });
  await expectError(req('conformance/does-not-exist'), 'get-missing');
  await expectError(req('bad name!*', { maxStaleness: { seconds: 1, nanos: 0 } }), 'get-bad-name');
  let firstVersion = '';
  const msgs = await watch('', (m, n) => {
    if (n === 1) {
      firstVersion = m.secret?.versionId ?? '';
      emit({ step: 'watch-first', ok: !!m.secret, ...first(m) });
      return false;
    }
    return !!m.secret && m.secret.versionId !== firstVersion;
  });
  const rotated = describe(msgs[msgs.length - 1]!.secret!);
  emit({ step: 'watch-rotated', ok: true, ...rotated });
  const [cur] = await watch(rotated.version_id, () => true);
  emit({ step: 'resume-current', ok: !!cur!.heartbeat && cur!.heartbeat.versionId === rotated.version_id, ...first(cur!) });
  const [old] = await watch(firstVersion, () => true);
  emit({ step: 'resume-old', ok: old!.secret?.versionId === rotated.version_id, ...first(old!) });
  client.close();
}

main().catch((e: Error) => {
  process.stderr.write(`scenario failed: ${e.message}\n`);
  process.exit(1);
});
