/**
 * k8s/base and every overlay, rendered by `kubectl kustomize` (CI installs kubectl; without it
 * these tests are skipped and scripts/render-k8s.sh fails instead): every ConfigMap, Secret and
 * ServiceAccount a pod references exists in the render or is on that overlay's operator-supplied
 * list with the keys used, every env name is a real setting, and the env is a config `serve`
 * accepts. Plus what each overlay promises (issue 13).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config/load';
import { SETTINGS } from '../../src/config/settings';

const K8S = join(__dirname, '..', '..', 'k8s');
type Doc = { kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; spec?: any; data?: Record<string, string>; stringData?: Record<string, string> };

/** What operators create themselves, per kustomization (kind/name → keys the pods use). */
const OPERATOR_SUPPLIED: Record<string, Record<string, string[]>> = {
  base: { 'Secret/secrets-gateway-tls': ['tls.crt', 'tls.key', 'ca.crt'], 'Secret/secrets-gateway-redis': ['url'], 'Secret/secrets-gateway-seal-keys': ['keys'] },
  'overlays/dev': {},
  // The TLS Secret is written by the overlay's cert-manager Certificate.
  'overlays/prod': { 'Secret/secrets-gateway-redis': ['password'], 'Secret/secrets-gateway-seal-keys': ['keys'] },
};
const RRSA = { ALIBABA_CLOUD_ROLE_ARN: 'acs:ram::1:role/r', ALIBABA_CLOUD_OIDC_PROVIDER_ARN: 'acs:ram::1:oidc-provider/p', ALIBABA_CLOUD_OIDC_TOKEN_FILE: '/var/run/secrets/token' };
const SECRET_STANDINS: Record<string, string> = {
  SECRETS_GATEWAY_REDIS_URL: 'rediss://:pw@redis:6380',
  SECRETS_GATEWAY_REDIS_PASSWORD: 'x',
  SECRETS_GATEWAY_CACHE_SEAL_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
};

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8', timeout: 30_000 }).status === 0;
const overlays = readdirSync(join(K8S, 'overlays')).map((d) => `overlays/${d}`);
const rendered = new Map<string, Doc[]>();
function render(dir: string): Doc[] {
  if (!rendered.has(dir)) {
    const r = spawnSync('kubectl', ['kustomize', join(K8S, dir)], { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`kubectl kustomize ${dir}: ${r.stderr}`);
    rendered.set(dir, parseAllDocuments(r.stdout).map((d) => d.toJS() as Doc));
  }
  return rendered.get(dir)!;
}
const t2 = kubectl ? test : test.skip;

test('every overlay is listed here', (t) => {
  t.deepEqual(overlays.sort(), Object.keys(OPERATOR_SUPPLIED).filter((k) => k !== 'base').sort());
});

for (const dir of ['base', ...overlays]) {
  t2(`${dir}: references resolve, env names are settings, and the env is a serve config`, (t) => {
    const docs = render(dir);
    const byRef = new Map(docs.map((d) => [`${d.kind}/${d.metadata.name}`, d]));
    for (const d of docs) if (d.kind === 'Certificate') byRef.set(`Secret/${d.spec.secretName}`, { kind: 'Secret', metadata: { name: d.spec.secretName }, data: { 'tls.crt': '', 'tls.key': '', 'ca.crt': '' } });
    const supplied = OPERATOR_SUPPLIED[dir]!;
    const keysOf = (ref: string) => {
      const d = byRef.get(ref);
      return d ? Object.keys({ ...d.data, ...d.stringData }) : supplied[ref];
    };
    const need = (ref: string, key?: string) => {
      const keys = keysOf(ref);
      t.truthy(keys, `${ref} is neither rendered nor operator-supplied`);
      if (key && keys) t.true(keys.includes(key), `${ref} has key ${key}`);
    };
    for (const d of docs.filter((x) => x.kind === 'Deployment' || x.kind === 'StatefulSet')) {
      const pod = d.spec.template.spec;
      if (pod.serviceAccountName) t.truthy(byRef.get(`ServiceAccount/${pod.serviceAccountName}`), `ServiceAccount/${pod.serviceAccountName}`);
      for (const v of pod.volumes ?? []) {
        if (v.secret) for (const k of v.secret.items?.map((i: { key: string }) => i.key) ?? [undefined]) need(`Secret/${v.secret.secretName}`, k);
        if (v.configMap) need(`ConfigMap/${v.configMap.name}`);
      }
      for (const c of pod.containers) {
        for (const f of c.envFrom ?? []) need(f.configMapRef ? `ConfigMap/${f.configMapRef.name}` : `Secret/${f.secretRef.name}`);
        for (const e of c.env ?? []) {
          if (e.valueFrom?.secretKeyRef) need(`Secret/${e.valueFrom.secretKeyRef.name}`, e.valueFrom.secretKeyRef.key);
          if (e.valueFrom?.configMapKeyRef) need(`ConfigMap/${e.valueFrom.configMapKeyRef.name}`, e.valueFrom.configMapKeyRef.key);
        }
      }
    }
    const gw = docs.find((d) => d.kind === 'Deployment' && d.metadata.name === 'secrets-gateway')!;
    const c = gw.spec.template.spec.containers.find((x: { name: string }) => x.name === 'gateway');
    const fromMaps = Object.assign({}, ...(c.envFrom ?? []).map((f: { configMapRef: { name: string } }) => byRef.get(`ConfigMap/${f.configMapRef.name}`)?.data ?? {}));
    const env: Record<string, string> = { ...fromMaps, ...RRSA };
    for (const e of c.env ?? []) env[e.name] = e.value ?? SECRET_STANDINS[e.name] ?? 'x';
    for (const n of Object.keys(env)) t.true(n in SETTINGS || /^ALIBABA_CLOUD_[A-Z_]+$/.test(n), `${n} is not a setting`);
    t.notThrows(() => loadConfig({ mode: 'serve', env, cwd: K8S }), 'serve accepts the rendered env');
    for (const d of docs) if (d.kind !== 'Namespace') t.is(d.metadata.namespace, 'secrets-gateway', `${d.kind}/${d.metadata.name}`);
  });
}

t2('dev: one Redis StatefulSet it can reach, plaintext gRPC with plaintext probes, the demo policy, no TLS Secret', (t) => {
  const docs = render('overlays/dev');
  const redis = docs.filter((d) => d.kind === 'StatefulSet');
  t.is(redis.length, 1);
  t.is(redis[0]!.spec.replicas, 1);
  const ns = docs.find((d) => d.kind === 'Namespace')!;
  t.is(ns.metadata.labels?.['secrets-gateway.io/redis'], 'true', 'the NetworkPolicy Redis rule admits the namespace');
  t.is(redis[0]!.spec.template.metadata.labels['app.kubernetes.io/name'], 'redis');
  const cm = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'secrets-gateway')!;
  t.is(cm.data!.SECRETS_GATEWAY_ALLOW_PLAINTEXT, 'true');
  t.false('SECRETS_GATEWAY_TLS_CERT_FILE' in cm.data!);
  const pod = docs.find((d) => d.kind === 'Deployment')!.spec.template.spec;
  t.false(JSON.stringify(pod).includes('secrets-gateway-tls'));
  t.deepEqual(pod.containers[0].readinessProbe.grpc, { port: 50051 });
  const policy = docs.find((d) => d.metadata.name === 'secrets-gateway-policy')!.data!['policy.yaml']!;
  t.regex(policy, /demo\/\*/);
});

t2('prod: Sentinel over TLS with a password from a Secret, the cert-manager Certificate, a real policy, tighter resources', (t) => {
  const docs = render('overlays/prod');
  const cm = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'secrets-gateway')!.data!;
  t.truthy(cm.SECRETS_GATEWAY_REDIS_SENTINELS);
  t.is(cm.SECRETS_GATEWAY_REDIS_TLS, 'true');
  const c = docs.find((d) => d.kind === 'Deployment')!.spec.template.spec.containers[0];
  const names = c.env.map((e: { name: string }) => e.name);
  t.false(names.includes('SECRETS_GATEWAY_REDIS_URL'));
  t.true(names.includes('SECRETS_GATEWAY_REDIS_PASSWORD'));
  t.is(docs.find((d) => d.kind === 'Certificate')?.spec.secretName, 'secrets-gateway-tls');
  t.regex(docs.find((d) => d.metadata.name === 'secrets-gateway-policy')!.data!['policy.yaml']!, /rules:\n\s+- /);
  t.truthy(c.resources.limits.cpu);
  const base = render('base').find((d) => d.kind === 'Deployment')!.spec.template.spec.containers[0].resources;
  t.not(JSON.stringify(c.resources), JSON.stringify(base));
  const netpol = docs.find((d) => d.kind === 'NetworkPolicy')!;
  t.true(JSON.stringify(netpol.spec.egress).includes('26379'), 'egress to Sentinel');
});
