/**
 * `secrets-gateway dev`: the gateway plus an embedded KMS emulator seeded with demo secrets, on
 * loopback, so a person can try GetSecret, WatchSecret and a rotation with nothing else running.
 * When `cache_client_region_id` is configured, dev mode uses those targets instead.
 */
import type { GatewayConfig } from '../config/types';
import { startGateway, type GatewayDeps, type RunningGateway } from '../main';
import type { Logger } from '../telemetry/logger';
import { loadEmulator, type DevEmulator } from './emulator';

/** Where `secrets-gateway rotate` finds the dev emulator's admin endpoint. */
export const DEV_ADMIN_PORT = 50052;
const DEV_REGIONS = ['cn-hangzhou', 'cn-shanghai'];
const DEV_AK = { id: 'dev-ak', secret: 'dev-secret-not-for-production' };

export interface DevGateway {
  gateway: RunningGateway;
  emulator?: DevEmulator;
  config: GatewayConfig;
  close(): Promise<void>;
}

export async function startDev(base: GatewayConfig, logger: Logger, adminPort = DEV_ADMIN_PORT, deps: Omit<GatewayDeps, 'logger'> = {}): Promise<DevGateway> {
  let emulator: DevEmulator | undefined;
  let config = base;
  if (base.kms.targets.length === 0) {
    // Loaded at run time: only dev mode ever loads the emulator, and the production image has none.
    const { createKmsEmulator, findDemoSeed } = loadEmulator('secrets-gateway dev');
    const seed = findDemoSeed();
    const start = (port: number) =>
      createKmsEmulator({ regions: DEV_REGIONS, seed, accessKeys: { [DEV_AK.id]: DEV_AK.secret }, adminPort: port, logger: logger.child({ component: 'kms-emulator' }) });
    emulator = await start(adminPort).catch(() => start(0)); // the fixed port is only a convenience for `rotate`
    const emu = emulator;
    config = {
      ...base,
      kms: {
        ...base.kms,
        targets: DEV_REGIONS.map((regionId) => {
          const r = emu.regions[regionId]!;
          return { id: `${regionId}/${r.endpoint}`, regionId, endpoint: r.endpoint, kind: 'shared' as const, protocol: r.protocol, caPem: emu.caPem };
        }),
        credentials: { type: 'access_key', accessKeyId: DEV_AK.id, accessKeySecret: DEV_AK.secret },
      },
    };
  }
  let gateway: RunningGateway;
  try {
    gateway = await startGateway(config, { ...deps, logger });
  } catch (e) {
    await emulator?.close();
    throw e;
  }
  return {
    gateway,
    emulator,
    config,
    close: async () => {
      await gateway.shutdown();
      await emulator?.close();
    },
  };
}

/** Ready-to-paste commands for the running dev gateway. */
export function devBanner(dev: DevGateway): string {
  const target = `${dev.config.listen.host}:${dev.gateway.port}`;
  const t = target === '127.0.0.1:50051' ? '' : ` --target ${target}`;
  const lines = [
    '',
    `secrets-gateway dev: gRPC on ${target}` + (dev.emulator ? `, KMS emulator regions ${Object.values(dev.emulator.regions).map((r) => `${r.regionId}=${r.endpoint}`).join(' ')}` : ''),
    dev.config.redis.target ? '  shared cache: Redis' : '  shared cache: in memory (set SECRETS_GATEWAY_REDIS_URL to use Redis)',
    `  admin: http://${dev.config.admin.listen.host}:${dev.gateway.adminPort}/metrics, /healthz, /readyz`,
    '',
    'Try it:',
    `  npx secrets-gateway get demo/db-password${t}`,
    `  npx secrets-gateway get demo/rds-app --json${t}`,
    `  npx secrets-gateway watch demo/db-password${t}`,
  ];
  if (dev.emulator?.adminUrl) lines.push(`  npx secrets-gateway rotate demo/db-password --admin ${dev.emulator.adminUrl}     # in another terminal: the watch prints v3`);
  lines.push(
    `  grpcurl -plaintext ${target} list`,
    `  grpcurl -plaintext -d '{"name":"demo/db-password"}' ${target} secretsgateway.v1.SecretsGatewayService/GetSecret`,
    '',
  );
  return lines.join('\n');
}

/** `secrets-gateway rotate NAME`: puts a new version into the dev emulator, so a watch fires. */
export async function rotateCommand(argv: string[]): Promise<number> {
  const { parseArgs } = require('node:util') as typeof import('node:util');
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { admin: { type: 'string', default: `http://127.0.0.1:${DEV_ADMIN_PORT}` } } });
  if (positionals.length !== 1) {
    process.stderr.write('usage: secrets-gateway rotate NAME [--admin http://127.0.0.1:50052]   (dev mode only)\n');
    return 2;
  }
  const url = new URL('/admin/rotate', values.admin);
  if (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost' && url.hostname !== '[::1]') {
    process.stderr.write('secrets-gateway rotate: only a local dev emulator can be rotated (--admin must be a loopback URL)\n');
    return 2;
  }
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: positionals[0] }) });
    const body = (await res.json()) as { versionId?: string; Code?: string; error?: string; Message?: string };
    if (!res.ok) {
      process.stderr.write(`secrets-gateway rotate: ${body.Code ?? body.error ?? res.status}: ${body.Message ?? ''}\n`);
      return 1;
    }
    process.stdout.write(`rotated ${positionals[0]}: new version ${body.versionId ?? '(unknown)'}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`secrets-gateway rotate: cannot reach the dev emulator at ${values.admin} (${(e as Error).message}); is \`secrets-gateway dev\` running?\n`);
    return 1;
  }
}
