/** `secrets-gateway get` and `secrets-gateway watch`: small gRPC clients for people and scripts. */
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { parseArgs } from 'node:util';
import { SecretsGatewayServiceClient, type GetSecretResponse, type WatchSecretResponse } from '../gen/secretsgateway/v1/secrets_gateway';
import { describe, secretJson, valueText } from './format';

const COMMON = { target: { type: 'string', default: '127.0.0.1:50051' }, json: { type: 'boolean', default: false } } as const;
const out = (s: string) => process.stdout.write(s + '\n');
const info = (s: string) => process.stderr.write(s + '\n');

function fail(e: ServiceError): number {
  info(`secrets-gateway: ${status[e.code] ?? e.code}: ${e.details || e.message}`);
  return e.code === status.NOT_FOUND ? 3 : e.code === status.INVALID_ARGUMENT ? 2 : 1;
}

export async function getCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...COMMON, stage: { type: 'string', default: '' }, 'version-id': { type: 'string', default: '' }, region: { type: 'string', default: '' } },
  });
  if (positionals.length !== 1) {
    info('usage: secrets-gateway get NAME [--stage S] [--version-id V] [--region R] [--json] [--target HOST:PORT]');
    return 2;
  }
  const client = new SecretsGatewayServiceClient(values.target, credentials.createInsecure());
  try {
    const res = await new Promise<GetSecretResponse>((resolve, reject) =>
      client.getSecret(
        { name: positionals[0]!, versionStage: values.stage, versionId: values['version-id'], regionId: values.region, fetchExtendedConfig: false },
        new Metadata(),
        { deadline: Date.now() + 15_000 },
        (e, r) => (e ? reject(e) : resolve(r!)),
      ),
    );
    if (values.json) out(JSON.stringify(secretJson(res.secret!, res.freshness)));
    else {
      info(describe(res.secret!, res.freshness));
      out(valueText(res.secret!));
    }
    return 0;
  } catch (e) {
    return fail(e as ServiceError);
  } finally {
    client.close();
  }
}

/**
 * Prints each version as it arrives. On UNAVAILABLE (a replica restarting) it reconnects with
 * `last_version_id`, so no rotation is missed; it stops on SIGINT or a terminal error.
 */
export async function watchCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { ...COMMON, stage: { type: 'string', default: '' } } });
  if (positionals.length !== 1) {
    info('usage: secrets-gateway watch NAME [--stage S] [--json] [--target HOST:PORT]');
    return 2;
  }
  const client = new SecretsGatewayServiceClient(values.target, credentials.createInsecure());
  let lastVersionId = '';
  let stopped = false;
  let current: { cancel(): void } | undefined;
  const onSignal = () => {
    stopped = true;
    current?.cancel();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    for (let retry = 0; !stopped; ) {
      const code = await new Promise<number | undefined>((resolve) => {
        const call = client.watchSecret({ name: positionals[0]!, versionStage: values.stage, regionId: '', lastVersionId });
        current = call;
        call.on('data', (m: WatchSecretResponse) => {
          retry = 0;
          if (m.secret) {
            lastVersionId = m.secret.versionId;
            if (values.json) out(JSON.stringify({ event: 'secret', ...secretJson(m.secret, m.freshness) }));
            else {
              info(describe(m.secret, m.freshness));
              out(valueText(m.secret));
            }
          } else if (m.heartbeat) {
            if (values.json) out(JSON.stringify({ event: 'heartbeat', versionId: m.heartbeat.versionId, checkedAt: m.freshness?.checkedAt?.toISOString() }));
            else info(`heartbeat: ${m.heartbeat.versionId} current, checked ${m.freshness?.checkedAt?.toISOString() ?? 'unknown'}`);
          }
        });
        call.on('error', (e: ServiceError) => {
          if (stopped || e.code === status.CANCELLED) return resolve(0);
          if (e.code === status.UNAVAILABLE) return resolve(undefined);
          resolve(fail(e));
        });
        call.on('end', () => resolve(undefined));
      });
      if (code !== undefined) return code;
      if (stopped) break;
      const waitMs = Math.min(10_000, 250 * 2 ** retry++);
      info(`stream ended; reconnecting in ${waitMs} ms with last_version_id=${lastVersionId || '(none)'}`);
      await new Promise((r) => setTimeout(r, waitMs));
    }
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    client.close();
  }
}
