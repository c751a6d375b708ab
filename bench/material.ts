/**
 * What the benchmark makes at start, in a temp dir: a throwaway CA with a server certificate for
 * 127.0.0.1/localhost and a client certificate (SPIFFE ID), a policy that lets that identity read
 * the demo secrets, and a KMS emulator seeded with the demo secrets plus the benchmark's own
 * (dates relative to the current clock), with the settings that point a gateway at it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { createKmsEmulator, findDemoSeed, type KmsEmulator, type SeedDocument, type SeedSecret } from '@secrets-gateway/kms-emulator';
import { createTlsMaterial, issueClientCertAsync } from '@secrets-gateway/kms-emulator/tls';

export const BENCH_IDENTITY = 'spiffe://cluster.local/ns/bench/sa/loadgen';
const AK = { id: 'bench-ak', secret: 'bench-ak-secret-not-for-production' };

export interface TlsFiles {
  dir: string;
  /** the CA that signs both the server and the client certificate */
  ca: string;
  cert: string;
  key: string;
  clientCert: string;
  clientKey: string;
  policy: string;
}

export async function makeTlsFiles(dir: string): Promise<TlsFiles> {
  const { ca, server } = await createTlsMaterial({});
  const client = await issueClientCertAsync(ca, { uris: [BENCH_IDENTITY] });
  const f: TlsFiles = {
    dir,
    ca: join(dir, 'ca.crt'),
    cert: join(dir, 'tls.crt'),
    key: join(dir, 'tls.key'),
    clientCert: join(dir, 'client.crt'),
    clientKey: join(dir, 'client.key'),
    policy: join(dir, 'policy.yaml'),
  };
  writeFileSync(f.ca, ca.certPem);
  writeFileSync(f.cert, server.certPem);
  writeFileSync(f.key, server.keyPem, { mode: 0o600 });
  writeFileSync(f.clientCert, client.certPem);
  writeFileSync(f.clientKey, client.keyPem, { mode: 0o600 });
  // A few rules before the matching one, so the check is not a single trivial comparison.
  writeFileSync(
    f.policy,
    ['rules:', '  - identities: ["spiffe://cluster.local/ns/shop/sa/*"]', '    secrets: ["shop/**"]', '  - identities: ["system:serviceaccount:payments:*"]', '    secrets: ["payments/*"]',
      `  - identities: ["${BENCH_IDENTITY}"]`, '    secrets: ["demo/*", "bench/**"]', '    stages: ["ACSCurrent"]', ''].join('\n'),
  );
  return f;
}

export const WATCHED = 'bench/watched';
export const coldName = (tag: string) => `bench/cold-${tag}`;
export const warmName = (i: number) => `bench/warm-${String(i).padStart(4, '0')}`;

function benchSeed(warmSecrets: number, coldTags: string[]): SeedDocument {
  const demo = parseYaml(readFileSync(findDemoSeed()!, 'utf8')) as SeedDocument;
  const text = (name: string, value: string): SeedSecret => ({ name, versions: [{ versionId: 'v1', stages: ['ACSCurrent'], text: value, createTime: 'now-1d' }] });
  return {
    accessKeys: [AK],
    secrets: [
      ...(demo.secrets ?? []),
      text(WATCHED, 'bench-watched-v1'),
      ...coldTags.map((tag) => text(coldName(tag), `bench-cold-${tag}`)),
      ...Array.from({ length: warmSecrets }, (_, i) => text(warmName(i), `bench-warm-${i}`)),
    ],
  };
}

export interface BenchKms {
  emu: KmsEmulator;
  /** cache_client_region_id + credentials_* for a gateway process */
  env: Record<string, string>;
  /** GetSecretValue calls the emulator has answered so far */
  getSecretValueCalls(): number;
}

export async function startBenchKms(dir: string, o: { warmSecrets: number; coldTags: string[] }): Promise<BenchKms> {
  const emu = await createKmsEmulator({ regions: ['cn-hangzhou'], seed: benchSeed(o.warmSecrets, o.coldTags) });
  const caFile = join(dir, 'kms-ca.pem');
  emu.writeCaFile(caFile);
  const r = emu.regions['cn-hangzhou']!;
  return {
    emu,
    env: {
      cache_client_region_id: JSON.stringify([{ regionId: r.regionId, endpoint: r.endpoint, caFilePath: caFile }]),
      credentials_type: 'ak',
      credentials_access_key_id: AK.id,
      credentials_access_secret: AK.secret,
    },
    getSecretValueCalls: () => emu.counters().GetSecretValue ?? 0,
  };
}
