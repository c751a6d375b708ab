/**
 * Readiness, transition by transition, as /readyz and grpc.health.v1 both report it: warm-up,
 * serving, Redis and KMS both unreachable with nothing cached, KMS alone down while the cache can
 * answer, recovery, drain. Real Redis, the real KMS pool against the emulator (or a gated source
 * where the test must hold a read in flight). Every step waits for a state, never for a time.
 */
import test, { type ExecutionContext } from 'ava';
import { status } from '@grpc/grpc-js';
import { loadConfig } from '../../src/config/load';
import { GetSecretRequest } from '../../src/gen/secretsgateway/v1/secrets_gateway';
import { startGateway, type RunningGateway } from '../../src/main';
import { silentLogger } from '../../src/telemetry/logger';
import { getJson } from '../helpers/admin';
import { BINARY, startDevGateway, TEXT, type TestDevGateway } from '../helpers/conformance';
import { FakeSource } from '../helpers/fakeSource';
import { gatewayClient, healthClient } from '../helpers/grpc';
import { startRedis } from '../helpers/redis';

const SEAL = `k1:${Buffer.alloc(32, 9).toString('base64')}`;

async function grpcHealth(t: ExecutionContext, port: number): Promise<string> {
  const h = healthClient(port);
  t.teardown(() => h.close());
  return new Promise((resolve, reject) => h.check({ service: '' }, (e, r) => (e ? reject(e) : resolve(r!.status))));
}

/** Polls /readyz until it answers `want` (each request re-evaluates readiness). */
async function readyzBecomes(port: number, want: number): Promise<Record<string, unknown>> {
  for (;;) {
    const r = await getJson(port, '/readyz');
    if (r.status === want) return r.body;
    await new Promise((res) => setTimeout(res, 25));
  }
}

function get(gw: { port: number }, name: string): Promise<{ code: number }> {
  const client = gatewayClient(gw.port);
  return new Promise((resolve) =>
    client.getSecret(GetSecretRequest.fromPartial({ name }), (e) => {
      client.close();
      resolve({ code: e ? e.code : status.OK });
    }),
  );
}

async function redisDev(t: ExecutionContext): Promise<{ dev: TestDevGateway; redis: Awaited<ReturnType<typeof startRedis>> }> {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const dev = await startDevGateway(t, {
    SECRETS_GATEWAY_ADMIN_LISTEN: '127.0.0.1:0',
    SECRETS_GATEWAY_REDIS_URL: redis.url,
    SECRETS_GATEWAY_CACHE_SEAL_KEYS: SEAL,
    SECRETS_GATEWAY_KMS_BREAKER_FAILURES: '1',
    // Long enough that an open breaker stays open for the whole test (no half-open probe).
    SECRETS_GATEWAY_KMS_BREAKER_OPEN_MS: '600000',
    SECRETS_GATEWAY_KMS_RETRY_MAX_ATTEMPTS: '2',
    SECRETS_GATEWAY_KMS_RETRY_BASE_MS: '1',
  });
  return { dev, redis };
}

const downKms = async (dev: TestDevGateway) => {
  for (const r of Object.keys(dev.emulator.regions)) await dev.emulator.faults.down(r);
};

test('Redis and every KMS target unreachable with nothing cached: not ready (503, NOT_SERVING); Redis back: ready again', async (t) => {
  const { dev, redis } = await redisDev(t);
  const admin = dev.gateway.adminPort;
  t.like(await readyzBecomes(admin, 200), { phase: 'serving', sharedCache: true, kms: true, holdsEntries: false });

  await redis.kill();
  t.like(await readyzBecomes(admin, 200), { sharedCache: false, kms: true }, 'Redis down alone: KMS can still fill');
  t.is(await grpcHealth(t, dev.gateway.port), 'SERVING');

  await downKms(dev);
  t.is((await get(dev.gateway, TEXT)).code, status.UNAVAILABLE, 'the failed read is the evidence: every breaker opens');
  t.like(await readyzBecomes(admin, 503), { ready: false, phase: 'serving', sharedCache: false, kms: false, holdsEntries: false });
  t.is(await grpcHealth(t, dev.gateway.port), 'NOT_SERVING');

  await redis.start();
  t.like(await readyzBecomes(admin, 200), { sharedCache: true, kms: false });
  t.is(await grpcHealth(t, dev.gateway.port), 'SERVING');
});

test('KMS alone down while the cache can answer: still ready, and the cached secret is still served', async (t) => {
  const { dev } = await redisDev(t);
  const admin = dev.gateway.adminPort;
  t.is((await get(dev.gateway, TEXT)).code, status.OK);
  await downKms(dev);
  t.is((await get(dev.gateway, BINARY)).code, status.UNAVAILABLE);
  t.like(await readyzBecomes(admin, 200), { ready: true, sharedCache: true, kms: false, holdsEntries: true });
  t.is(await grpcHealth(t, dev.gateway.port), 'SERVING');
  t.is((await get(dev.gateway, TEXT)).code, status.OK);
});

test('not ready while warm-up runs and while draining; /healthz answers throughout', async (t) => {
  let release!: () => void;
  let gate = new Promise<void>((r) => (release = r));
  const entered: string[] = [];
  const source = new FakeSource({ before: (sel) => (entered.push(sel.name), gate) });
  const config = loadConfig({
    mode: 'dev',
    env: { SECRETS_GATEWAY_LISTEN: '127.0.0.1:0', SECRETS_GATEWAY_ADMIN_LISTEN: '127.0.0.1:0', SECRETS_GATEWAY_WARMUP_SECRETS: 'app/warm', SECRETS_GATEWAY_WARMUP_JITTER_MS: '0' },
  });
  let ports!: { port: number; adminPort: number };
  let reported!: () => void;
  const listening = new Promise<void>((r) => (reported = r));
  const starting = startGateway(config, { logger: silentLogger, source, report: (p) => ((ports = p), reported()) });
  let gw: RunningGateway | undefined;
  t.teardown(async () => {
    release();
    await (gw ?? (await starting.catch(() => undefined)))?.shutdown();
  });
  await listening;

  t.like(await readyzBecomes(ports.adminPort, 503), { phase: 'starting' });
  t.is(await grpcHealth(t, ports.port), 'NOT_SERVING');
  t.like((await getJson(ports.adminPort, '/healthz')).body, { status: 'alive' });
  release();
  gw = await starting;
  t.like(await readyzBecomes(ports.adminPort, 200), { phase: 'serving' });
  t.is(await grpcHealth(t, ports.port), 'SERVING');

  // Drain: a read held in flight keeps shutdown in its graceful wait.
  gate = new Promise<void>((r) => (release = r));
  const inFlight = get(gw, 'app/slow');
  while (!entered.includes('app/slow')) await new Promise((r) => setTimeout(r, 10));
  const stopping = gw.shutdown();
  t.like(await readyzBecomes(ports.adminPort, 503), { phase: 'draining' });
  t.is((await getJson(ports.adminPort, '/healthz')).status, 200);
  release();
  t.is((await inFlight).code, status.OK, 'the in-flight read finished during the drain');
  await stopping;
});
