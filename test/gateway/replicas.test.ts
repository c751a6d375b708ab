/**
 * Three real gateway processes (`secrets-gateway serve`), one redis-server and the KMS emulator,
 * with 300 watchers spread across the replicas: a rotation reaches every watcher from a single
 * KMS poll, a kill -9 of one replica loses no rotation for its watchers (they resume elsewhere
 * with last_version_id), and KMS calls stay at one per poll per secret for the whole cluster.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import test from 'ava';
import { newKeySpec } from '../../src/cache';
import { SecretsGatewayServiceClient, type WatchSecretResponse } from '../../src/gen/secretsgateway/v1/secrets_gateway';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gatewayProcess';
import { startEmulator, TEST_AK } from '../helpers/kms';
import { startRedis } from '../helpers/redis';

const SECRET = 'e2e/rotating';
const WATCHERS = 300;
const POLL_MS = 1000;

/** A watcher that follows the secret across replicas: on UNAVAILABLE it resumes on the next replica with last_version_id. */
class Watcher {
  versions: string[] = [];
  reconnects = 0;
  /** Messages that carried a value (a resume with last_version_id gets a heartbeat unless the version moved on). */
  secretMessages = 0;
  /** The last_version_id each reconnect sent. */
  resumedWith: string[] = [];
  private call?: { cancel(): void };
  private stopped = false;
  constructor(
    private readonly clients: SecretsGatewayServiceClient[],
    private replica: number,
    private readonly alive: () => boolean[],
  ) {
    this.open();
  }
  get current(): string | undefined {
    return this.versions[this.versions.length - 1];
  }
  private open() {
    if (this.reconnects > 0) this.resumedWith.push(this.current ?? '');
    const call = this.clients[this.replica]!.watchSecret({ name: SECRET, versionStage: '', regionId: '', lastVersionId: this.current ?? '' }, new Metadata());
    this.call = call;
    call.on('data', (m: WatchSecretResponse) => {
      if (m.secret) this.secretMessages++;
      if (m.secret && m.secret.versionId !== this.current) this.versions.push(m.secret.versionId);
    });
    call.on('error', (e: ServiceError) => {
      if (this.stopped || e.code === status.CANCELLED) return;
      this.reconnects++;
      const up = this.alive();
      do this.replica = (this.replica + 1) % this.clients.length;
      while (!up[this.replica]);
      setTimeout(() => this.open(), 50 + Math.random() * 200);
    });
  }
  stop() {
    this.stopped = true;
    this.call?.cancel();
  }
}

async function until(cond: () => boolean, what: string, timeoutMs = 30_000) {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('3 replicas, 300 watchers: one KMS poll per rotation, and a kill -9 loses no rotation', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sg-e2e-'));
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const emu = await startEmulator(t, { seed: { secrets: [{ name: SECRET, versions: [{ versionId: 'v1', stages: ['ACSCurrent'], text: 'SENTINEL-e2e-v1' }] }] } });
  emu.writeCaFile(join(dir, 'ca.pem'));
  const env = {
    cache_client_region_id: JSON.stringify([{ regionId: 'cn-hangzhou', endpoint: emu.regions['cn-hangzhou']!.endpoint, caFilePath: join(dir, 'ca.pem') }]),
    credentials_type: 'ak',
    credentials_access_key_id: TEST_AK.id,
    credentials_access_secret: TEST_AK.secret,
    SECRETS_GATEWAY_REDIS_URL: redis.url,
    SECRETS_GATEWAY_CACHE_SEAL_KEYS: newKeySpec('e2e'),
    SECRETS_GATEWAY_WATCH_POLL_INTERVAL_MS: String(POLL_MS),
    SECRETS_GATEWAY_WATCH_HEARTBEAT_MS: '1000',
    SECRETS_GATEWAY_WATCH_MAX_STREAMS_PER_CALLER: '1000',
    SECRETS_GATEWAY_SHUTDOWN_GRACE_MS: '2000',
  };
  const gws: GatewayProcess[] = [];
  for (let i = 0; i < 3; i++) gws.push(await startGatewayProcess(env));
  t.teardown(() => Promise.all(gws.map((g) => g.crash())));
  const alive = [true, true, true];
  const clients = gws.map((g) => new SecretsGatewayServiceClient(`127.0.0.1:${g.port}`, credentials.createInsecure()));
  t.teardown(() => clients.forEach((c) => c.close()));

  const watchers = Array.from({ length: WATCHERS }, (_, i) => new Watcher(clients, i % 3, () => alive));
  t.teardown(() => watchers.forEach((w) => w.stop()));
  await until(() => watchers.every((w) => w.current === 'v1'), 'every watcher to get v1');

  // Rotation 1: one poll somewhere in the cluster sees it; every replica fans it out.
  emu.resetCounters();
  const v2 = emu.store.putSecretValue({ name: SECRET, versionId: 'v2', data: 'SENTINEL-e2e-v2' }).versionId;
  const t0 = Date.now();
  await until(() => watchers.every((w) => w.current === v2), 'every watcher to get v2');
  const deliveryMs = Date.now() - t0;
  const callsForRotation = emu.counters().GetSecretValue ?? 0;
  t.true(callsForRotation <= 2, `KMS calls while delivering one rotation to ${WATCHERS} watchers on 3 replicas: ${callsForRotation}`);
  t.log(`rotation 1 reached all ${WATCHERS} watchers in ${deliveryMs} ms (poll interval ${POLL_MS} ms) with ${callsForRotation} GetSecretValue call(s)`);

  // Quiet period: the cluster polls each watched secret once per interval, whatever the watcher count.
  emu.resetCounters();
  const quietMs = 4 * POLL_MS;
  await new Promise((r) => setTimeout(r, quietMs));
  const quietCalls = emu.counters().GetSecretValue ?? 0;
  t.true(quietCalls <= quietMs / (POLL_MS * 0.9) + 1, `GetSecretValue calls in ${quietMs} ms: ${quietCalls}`);
  t.log(`quiet ${quietMs} ms: ${quietCalls} GetSecretValue calls for ${WATCHERS} watchers on 3 replicas`);

  // kill -9 one replica, rotate while its watchers reconnect: nobody misses the newest version.
  alive[0] = false;
  await gws[0]!.crash();
  const v3 = emu.store.putSecretValue({ name: SECRET, versionId: 'v3', data: 'SENTINEL-e2e-v3' }).versionId;
  await until(() => watchers.every((w) => w.current === v3), 'every watcher, including the crashed replica\'s, to get v3');
  const moved = watchers.filter((w) => w.reconnects > 0).length;
  t.is(moved, WATCHERS / 3, 'exactly the crashed replica\'s watchers reconnected');
  for (const w of watchers) t.deepEqual(w.versions, ['v1', 'v2', 'v3']);
  const resumed = watchers.filter((w) => w.reconnects > 0);
  t.true(resumed.every((w) => w.resumedWith.length > 0 && w.resumedWith.every((v) => v === 'v2' || v === 'v3')), 'every resume sent the last version it held');
  t.deepEqual([...new Set(watchers.map((w) => w.secretMessages))], [3], 'one value message per version, none resent on resume: 0 missed, 0 duplicated');
  t.log(`after kill -9: ${moved} watchers resumed on other replicas; all ${WATCHERS} hold v3`);
});
