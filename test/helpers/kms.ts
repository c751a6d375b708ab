/** Starts the KMS emulator for a test and builds KMS configs that point at it over HTTPS with its CA pinned. */
import type { ExecutionContext } from 'ava';
import type { KmsConfig, KmsTargetConfig } from '../../src/config/types';
import type { KmsEmulator, KmsEmulatorOptions } from '../../src/emulator';
import { createKmsEmulator } from '../../src/emulator';

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
    hedgeDelayMs: 0,
    budget: { qps: 1000, burst: 1000, replicas: 1 },
    ...over,
  };
}
