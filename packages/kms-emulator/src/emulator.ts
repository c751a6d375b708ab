/**
 * `createKmsEmulator`: the composition root of the emulator. One shared store, STS, nonce set and
 * request log; one endpoint per region with its own faults and counters; an optional admin endpoint.
 */
import { writeFileSync } from 'node:fs';
import { silentLogger } from '../../../src/telemetry/logger';
import { startAdminServer, type AdminServer } from './admin';
import { createAuthenticator, TIMESTAMP_WINDOW_MS } from './auth';
import { createClientKeyRegistry } from './clientKeys';
import { createInstanceApi } from './instanceApi';
import { createNonceCache } from './nonceCache';
import { createRequestLog } from './requestLog';
import { applySeed, parseSeed, readSeedFile, type ParsedSeed } from './seed';
import { createRegionServer, type RegionServer } from './server';
import { createSecretStore } from './store';
import { createStsService } from './sts';
import { createTlsMaterial, loadCa } from './tls';
import type { CaPem, InstanceEndpoint, KmsEmulator, KmsEmulatorOptions, RegionEndpoint } from './types';

const REGION_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const INSTANCE_ID = /^kst-[a-z0-9]{1,60}$/;
const instanceHost = (id: string) => `${id}.cryptoservice.kms.aliyuncs.com`;

/**
 * TLS material per (CA, extra names), generated once per process: an RSA key costs 0.1–1 s on a
 * small machine and test suites start dozens of emulators. So emulators started with `tls: true`
 * in one process share a generated CA; give each its own CA (`tls: {caCertPem, caKeyPem}`) when
 * a test needs them to distrust each other.
 */
const tlsCache = new Map<string, ReturnType<typeof createTlsMaterial>>();

function tlsMaterial(given: CaPem | undefined, instanceHosts: string[]): ReturnType<typeof createTlsMaterial> {
  const names = [...new Set([...(given?.extraDnsNames ?? []), ...instanceHosts])].sort();
  const key = JSON.stringify([given?.caCertPem ?? '', given?.caKeyPem ?? '', names]);
  let material = tlsCache.get(key);
  if (!material) {
    const ca = given ? loadCa(given.caCertPem, given.caKeyPem) : undefined;
    material = createTlsMaterial({ dnsNames: names }, ca);
    material.catch(() => tlsCache.delete(key));
    tlsCache.set(key, material);
  }
  return material;
}

function checkOptions(o: KmsEmulatorOptions): string[] {
  const regions = o.regions ?? ['cn-hangzhou'];
  if (regions.length === 0) throw new RangeError('regions: give at least one region');
  for (const r of regions) if (!REGION_ID.test(r)) throw new RangeError(`regions: ${JSON.stringify(r)} is not a region id such as cn-hangzhou`);
  if (new Set(regions).size !== regions.length) throw new RangeError('regions: a region is listed twice');
  const instances = o.instances ?? [];
  for (const id of instances) {
    if (!INSTANCE_ID.test(id)) throw new RangeError(`instances: ${JSON.stringify(id)} is not an instance id such as kst-hzz65f1a2b3c4d5e6`);
  }
  if (new Set(instances).size !== instances.length) throw new RangeError('instances: an instance is listed twice');
  if (instances.length > 0 && o.tls === false) throw new RangeError('instances: a KMS instance is reached over HTTPS only (tls must not be false)');
  for (const [r, p] of Object.entries(o.ports ?? {})) {
    if (!regions.includes(r) && !instances.includes(r)) throw new RangeError(`ports.${r}: not one of the regions or instances`);
    if (!Number.isInteger(p) || p < 0 || p > 65535) throw new RangeError(`ports.${r}: must be a port number (0 = any free port)`);
  }
  if (o.stsSessionSeconds !== undefined && (!Number.isInteger(o.stsSessionSeconds) || o.stsSessionSeconds < 1)) throw new RangeError('stsSessionSeconds: must be a positive integer');
  if (o.adminPort !== undefined && (!Number.isInteger(o.adminPort) || o.adminPort < 0 || o.adminPort > 65535)) throw new RangeError('adminPort: must be a port number (0 = any free port)');
  return regions;
}

/**
 * Starts the emulator: every region endpoint listening on 127.0.0.1 (HTTPS by default, with a
 * generated CA unless one is given), seeded, with the admin endpoint when `adminPort` is set.
 * Throws RangeError / SeedError for bad options before binding anything.
 */
export async function createKmsEmulator(opts: KmsEmulatorOptions = {}): Promise<KmsEmulator> {
  const regionIds = checkOptions(opts);
  const now = opts.clock ?? Date.now;
  const logger = opts.logger ?? silentLogger;

  const seed: ParsedSeed = typeof opts.seed === 'string' ? readSeedFile(opts.seed, now()) : parseSeed(opts.seed ?? {}, now());
  const accessKeys = new Map<string, string>([...seed.accessKeys, ...Object.entries(opts.accessKeys ?? {})]);
  const store = createSecretStore({ now });
  applySeed(store, seed);
  const sts = createStsService({ now, sessionSeconds: opts.stsSessionSeconds });
  const auth = createAuthenticator({ accessKeys, sts, nonces: createNonceCache({ windowMs: TIMESTAMP_WINDOW_MS, now }), now });
  const log = createRequestLog(opts.requestLogSize ?? 1000);

  let caPem: string | undefined;
  let tls: { key: string; cert: string } | undefined;
  if (opts.tls !== false) {
    const material = await tlsMaterial(typeof opts.tls === 'object' ? opts.tls : undefined, (opts.instances ?? []).map(instanceHost));
    caPem = material.ca.certPem;
    tls = { key: material.server.keyPem, cert: material.server.certPem };
  }

  const clientKeys = createClientKeyRegistry();
  const instanceIds = opts.instances ?? [];
  // Regions and instances share one map: faults, counters and down/up take either id.
  const servers = new Map<string, RegionServer>([
    ...regionIds.map((regionId): [string, RegionServer] => [regionId, createRegionServer({ regionId, port: opts.ports?.[regionId] ?? 0, tls, store, sts, auth, log, logger, now })]),
    ...instanceIds.map((instanceId): [string, RegionServer] => [
      instanceId,
      createRegionServer({
        regionId: regionIds[0]!,
        port: opts.ports?.[instanceId] ?? 0,
        tls,
        store,
        sts,
        auth,
        log,
        logger,
        now,
        instance: createInstanceApi({ instanceId, regionId: regionIds[0]!, store, clientKeys, now }),
      }),
    ]),
  ]);
  const server = (id: string): RegionServer => {
    const s = servers.get(id);
    if (!s) throw new RangeError(`unknown region or instance ${id} (known: ${[...servers.keys()].join(', ')})`);
    return s;
  };

  let admin: AdminServer | undefined;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await Promise.all([...servers.values()].map((s) => s.down()));
    await admin?.close();
    logger.info('kms emulator stopped');
  };

  try {
    for (const s of servers.values()) await s.up();
  } catch (e) {
    await close();
    throw e;
  }

  const regions: Record<string, RegionEndpoint> = Object.fromEntries(regionIds.map((id) => [id, server(id).info]));
  const instances: Record<string, InstanceEndpoint> = Object.fromEntries(
    instanceIds.map((id) => {
      const info = server(id).info;
      return [id, { instanceId: id, regionId: regionIds[0]!, host: instanceHost(id), get endpoint() { return info.endpoint; }, get port() { return info.port; }, protocol: 'https' as const }];
    }),
  );
  const counters = (regionId?: string): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const s of regionId === undefined ? servers.values() : [server(regionId)]) {
      for (const [action, n] of s.counters) out[action] = (out[action] ?? 0) + n;
    }
    return out;
  };

  const emulator: KmsEmulator = {
    regions,
    instances,
    clientKeys,
    caPem,
    writeCaFile(path) {
      if (!caPem) throw new Error('the emulator serves plain HTTP: there is no CA to write');
      writeFileSync(path, caPem, { mode: 0o644 });
    },
    faults: {
      set: (regionId, spec) => server(regionId).faults.set(spec),
      clear: (regionId) => {
        for (const s of regionId === undefined ? servers.values() : [server(regionId)]) s.faults.clear();
      },
      down: (regionId) => server(regionId).down(),
      up: async (regionId) => {
        if (closed) throw new Error('the emulator is closed');
        await server(regionId).up();
      },
      get: (regionId) => server(regionId).faults.get(),
    },
    counters,
    requestLog: () => log.entries(),
    resetCounters() {
      for (const s of servers.values()) s.counters.clear();
      log.clear();
    },
    store,
    addAccessKey(id, secret) {
      if (!id || !secret) throw new RangeError('addAccessKey: id and secret must be non-empty');
      accessKeys.set(id, secret);
    },
    close,
  };

  if (opts.adminPort !== undefined) {
    try {
      admin = await startAdminServer({ ...emulator, isUp: (id) => server(id).isUp, sts }, { port: opts.adminPort, logger });
    } catch (e) {
      await close();
      throw e;
    }
    emulator.adminUrl = admin.url;
  }
  logger.info('kms emulator started', {
    regions: Object.values(regions).map((r) => `${r.regionId}=${r.protocol}://${r.endpoint}`).join(' '),
    ...(instanceIds.length ? { instances: Object.values(instances).map((i) => `${i.instanceId}=https://${i.endpoint}`).join(' ') } : {}),
    admin: emulator.adminUrl,
  });
  return emulator;
}
