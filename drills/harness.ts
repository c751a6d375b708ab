/**
 * What every drill shares: the KMS emulator with hot, cold and watched secrets; three real
 * `secrets-gateway serve` processes; a steady mixed load (GetSecret on hot and cold names,
 * watchers that resume on another replica with last_version_id); and the row of counts a drill
 * reports. Loopback only; every loop stops on its own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { newKeySpec } from '../src/cache';
import { createKmsEmulator, type KmsEmulator } from '@secrets-gateway/kms-emulator';
import { Freshness_Source, SecretsGatewayServiceClient, type WatchSecretResponse } from '../src/gen/secretsgateway/v1/secrets_gateway';
import { startGatewayProcess, type GatewayProcess } from '../test/helpers/gatewayProcess';

process.env.ALIBABA_CLOUD_ECS_METADATA_DISABLED = 'true';

export const AK = { id: 'drill-ak', secret: 'drill-ak-secret-SENTINEL' };
export const REGIONS = ['cn-hangzhou', 'cn-shanghai'];
export const HOT = Array.from({ length: 5 }, (_, i) => `drill/hot-${i}`);
export const COLD = Array.from({ length: 2000 }, (_, i) => `drill/cold-${i}`);
export const WATCHED = 'drill/rotating';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) return false;
    await sleep(100);
  }
  return true;
}

export async function startKms(): Promise<{ emu: KmsEmulator; caFile: string; dir: string; close(): Promise<void> }> {
  const secrets = [...HOT, ...COLD, WATCHED].map((name) => ({ name, versions: [{ versionId: 'v1', stages: ['ACSCurrent'], text: `SENTINEL-${name}` }] }));
  const emu = await createKmsEmulator({ regions: REGIONS, accessKeys: { [AK.id]: AK.secret }, seed: { secrets } });
  const dir = mkdtempSync(join(tmpdir(), 'sg-drill-'));
  const caFile = join(dir, 'ca.pem');
  emu.writeCaFile(caFile);
  return { emu, caFile, dir, close: async () => (await emu.close(), rmSync(dir, { recursive: true, force: true })) };
}

/** The environment of each gateway: both regions, the shared Redis given by `redisEnv`, limits out of the way of the load. */
export function gatewayEnv(emu: KmsEmulator, caFile: string, redisEnv: Record<string, string>, over: Record<string, string> = {}): Record<string, string> {
  return {
    cache_client_region_id: JSON.stringify(REGIONS.map((regionId) => ({ regionId, endpoint: emu.regions[regionId]!.endpoint, caFilePath: caFile }))),
    credentials_type: 'ak',
    credentials_access_key_id: AK.id,
    credentials_access_secret: AK.secret,
    SECRETS_GATEWAY_CACHE_SEAL_KEYS: newKeySpec('drill'),
    SECRETS_GATEWAY_WATCH_POLL_INTERVAL_MS: '1000',
    SECRETS_GATEWAY_WATCH_HEARTBEAT_MS: '2000',
    SECRETS_GATEWAY_WATCH_MAX_STREAMS_PER_CALLER: '5000',
    SECRETS_GATEWAY_LIMIT_GET_RPS: '100000',
    SECRETS_GATEWAY_LIMIT_GET_BURST: '100000',
    SECRETS_GATEWAY_LIMIT_MISS_RPS: '10000',
    SECRETS_GATEWAY_LIMIT_MISS_BURST: '10000',
    SECRETS_GATEWAY_LIMIT_STREAM_OPENS_RPS: '10000',
    SECRETS_GATEWAY_LIMIT_STREAM_OPENS_BURST: '10000',
    SECRETS_GATEWAY_SHUTDOWN_GRACE_MS: '1000',
    SECRETS_GATEWAY_LOG_LEVEL: 'warn',
    ...redisEnv,
    ...over,
  };
}

export interface Cluster {
  gws: GatewayProcess[];
  clients: SecretsGatewayServiceClient[];
  alive: boolean[];
  kill(i: number): Promise<void>;
  close(): Promise<void>;
}

export async function startGateways(env: Record<string, string>, n = 3): Promise<Cluster> {
  const gws: GatewayProcess[] = [];
  try {
    for (let i = 0; i < n; i++) gws.push(await startGatewayProcess(env));
  } catch (e) {
    await Promise.all(gws.map((g) => g.crash()));
    throw e;
  }
  const clients = gws.map((g) => new SecretsGatewayServiceClient(`127.0.0.1:${g.port}`, credentials.createInsecure()));
  const alive = gws.map(() => true);
  return {
    gws,
    clients,
    alive,
    kill: async (i) => {
      alive[i] = false;
      await gws[i]!.crash();
    },
    close: async () => {
      clients.forEach((c) => c.close());
      await Promise.all(gws.map((g, i) => (alive[i] ? g.crash() : undefined)));
    },
  };
}

/** A watcher that follows WATCHED across replicas: on an error it resumes on the next live replica with last_version_id. */
class Watcher {
  versions: string[] = [];
  reconnects = 0;
  private call?: { cancel(): void };
  private stopped = false;
  private timer?: NodeJS.Timeout;
  constructor(
    private readonly c: Cluster,
    private replica: number,
  ) {
    this.open();
  }
  get current(): string | undefined {
    return this.versions[this.versions.length - 1];
  }
  /** The replica this watcher is (or is about to be) connected to. */
  get on(): number {
    return this.replica;
  }
  private open() {
    if (this.stopped) return;
    const call = this.c.clients[this.replica]!.watchSecret({ name: WATCHED, versionStage: '', regionId: '', lastVersionId: this.current ?? '' }, new Metadata());
    this.call = call;
    call.on('data', (m: WatchSecretResponse) => {
      if (m.secret && m.secret.versionId !== this.current) this.versions.push(m.secret.versionId);
    });
    call.on('error', (e: ServiceError) => {
      if (this.stopped || e.code === status.CANCELLED) return;
      this.reconnects++;
      const live = this.c.alive.map((a, i) => (a ? i : -1)).filter((i) => i >= 0);
      this.replica = live[(live.indexOf(this.replica) + 1) % live.length] ?? live[0]!;
      this.timer = setTimeout(() => this.open(), 200 + Math.random() * 800);
    });
  }
  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.call?.cancel();
  }
}

export interface Row {
  drill: string;
  seconds: number;
  requests: number;
  /** Failures of hot (cached) reads, by gRPC status name. */
  hotFailures: Record<string, number>;
  /** Failures of cold reads (cache misses), by gRPC status name. */
  coldFailures: Record<string, number>;
  stale: number;
  kmsCalls: number;
  published: number;
  delivered: number;
  missed: number;
  bar: boolean;
  note: string;
}

/**
 * The steady load: `loops` concurrent readers, 1 in 10 reads on a cold name never read before
 * (a cache miss that goes to KMS), the rest on the hot names; plus `watchers` watch streams spread
 * over the replicas. Reads carry a 5 s deadline.
 */
export class Load {
  requests = 0;
  stale = 0;
  hotFailures: Record<string, number> = {};
  coldFailures: Record<string, number> = {};
  /** What the drill is doing now; hot-read failures are also tallied per phase, to say when they happened. */
  phase = 'before';
  hotFailuresByPhase: Record<string, number> = {};
  /** The first few distinct details of failed hot reads (no values: the gateway never puts them in errors). */
  hotFailureDetails = new Set<string>();
  private stopped = false;
  private readonly running: Promise<void>[] = [];
  private cold = 0;
  readonly watchers: Watcher[];

  constructor(
    private readonly c: Cluster,
    opts: { watchers: number; loops: number; coldOffset: number },
  ) {
    this.cold = opts.coldOffset;
    this.watchers = Array.from({ length: opts.watchers }, (_, i) => new Watcher(c, i % c.clients.length));
    for (let i = 0; i < opts.loops; i++) this.running.push(this.loop(i));
  }

  /** Every watcher holds `version`. */
  allAt(version: string): boolean {
    return this.watchers.every((w) => w.current === version);
  }

  private async loop(i: number): Promise<void> {
    for (let n = 0; !this.stopped; n++) {
      const isCold = n % 10 === 9;
      const name = isCold ? COLD[this.cold++ % COLD.length]! : HOT[(i + n) % HOT.length]!;
      const live = this.c.alive.map((a, k) => (a ? k : -1)).filter((k) => k >= 0);
      const r = await this.get(live[(i + n) % live.length]!, name);
      this.requests++;
      if (r.code !== undefined) {
        const tally = isCold ? this.coldFailures : this.hotFailures;
        tally[status[r.code]] = (tally[status[r.code]] ?? 0) + 1;
        if (!isCold) this.hotFailuresByPhase[this.phase] = (this.hotFailuresByPhase[this.phase] ?? 0) + 1;
        if (!isCold && this.hotFailureDetails.size < 4) this.hotFailureDetails.add(`${this.phase}: ${r.details}`);
      } else if (r.source === Freshness_Source.SOURCE_STALE) this.stale++;
      await sleep(10);
    }
  }

  private get(replica: number, name: string): Promise<{ code?: status; details?: string; source?: Freshness_Source }> {
    return new Promise((resolve) => {
      this.c.clients[replica]!.getSecret({ name, versionStage: '', versionId: '', regionId: '', fetchExtendedConfig: false }, new Metadata(), { deadline: Date.now() + 5000 }, (e, r) =>
        resolve(e ? { code: (e as ServiceError).code, details: (e as ServiceError).details } : { source: r!.freshness?.source }),
      );
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.running);
    this.watchers.forEach((w) => w.stop());
  }
}

export const fmt = (r: Record<string, number>) =>
  Object.keys(r).length === 0 ? '0' : Object.entries(r).map(([k, v]) => `${k} ${v}`).join(', ');
