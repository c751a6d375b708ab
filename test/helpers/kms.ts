/** Starts the KMS emulator for a test and builds KMS configs that point at it over HTTPS with its CA pinned. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import type { KmsConfig, KmsTargetConfig } from '../../src/config/types';
import type { KmsEmulator, KmsEmulatorOptions, MintedClientKey } from '@secrets-gateway/kms-emulator';
import { createKmsEmulator } from '@secrets-gateway/kms-emulator';

process.env.ALIBABA_CLOUD_ECS_METADATA_DISABLED = 'true';

export const TEST_AK = { id: 'test-ak-id', secret: 'test-ak-secret-SENTINEL-7c2f' };

export async function startEmulator(t: ExecutionContext, opts: Partial<KmsEmulatorOptions> = {}): Promise<KmsEmulator> {
  const emu = await createKmsEmulator({ regions: ['cn-hangzhou'], accessKeys: { [TEST_AK.id]: TEST_AK.secret }, ...opts });
  t.teardown(() => emu.close());
  return emu;
}

export function emulatorTargets(emu: KmsEmulator, regions = Object.keys(emu.regions)): KmsTargetConfig[] {
  return regions.map((regionId) => {
    const r = emu.regions[regionId]!;
    return { id: `${regionId}/${r.endpoint}`, regionId, endpoint: r.endpoint, kind: 'shared', protocol: r.protocol, caPem: emu.caPem };
  });
}

export function kmsConfig(emu: KmsEmulator, over: Partial<KmsConfig> = {}): KmsConfig {
  return baseKmsConfig({ targets: emulatorTargets(emu), ...over });
}

/** Test defaults: short backoff, generous budget, test AccessKey. */
export function baseKmsConfig(over: Partial<KmsConfig> = {}): KmsConfig {
  return {
    targets: [],
    credentials: { type: 'access_key', accessKeyId: TEST_AK.id, accessKeySecret: TEST_AK.secret },
    connectTimeoutMs: 5000,
    readTimeoutMs: 5000,
    retry: { maxAttempts: 4, baseDelayMs: 10, maxDelayMs: 50 },
    breaker: { failureThreshold: 5, openMs: 10_000 },
    ejection: { baseMs: 1000, maxMs: 30_000 },
    hedgeDelayMs: 0,
    budget: { qps: 1000, burst: 1000, replicas: 1 },
    ...over,
  };
}

/** A ClientKey minted by the emulator for `instanceId`, written to files as the console's download would be. */
export interface ClientKeyFixture {
  target: KmsTargetConfig;
  minted: MintedClientKey;
  dir: string;
  clientKeyFile: string;
  passwordFile: string;
}

export async function clientKeyTarget(t: ExecutionContext, emu: KmsEmulator, instanceId = Object.keys(emu.instances)[0]!): Promise<ClientKeyFixture> {
  const inst = emu.instances[instanceId]!;
  const minted = await emu.clientKeys.mint({ instanceIds: [instanceId] });
  const dir = mkdtempSync(join(tmpdir(), 'clientkey-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const clientKeyFile = join(dir, `clientKey_${instanceId}.json`);
  const passwordFile = join(dir, `clientKey_${instanceId}_Password.txt`);
  writeFileSync(clientKeyFile, minted.clientKeyJson, { mode: 0o600 });
  writeFileSync(passwordFile, minted.password + '\n', { mode: 0o600 });
  const target: KmsTargetConfig = {
    id: `${inst.regionId}/${inst.endpoint}`,
    regionId: inst.regionId,
    endpoint: inst.endpoint,
    kind: 'dedicated',
    protocol: 'https',
    caPem: emu.caPem,
    clientKey: { file: clientKeyFile, password: { kind: 'file', path: passwordFile } },
  };
  return { target, minted, dir, clientKeyFile, passwordFile };
}
