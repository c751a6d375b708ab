/**
 * k8s/base against the real code: the ConfigMap is a config `serve` accepts (TLS, optional mTLS,
 * service-account tokens, a policy), every file setting lands on a mounted volume that holds that
 * key, every ConfigMap and Secret the pods use is in the base or on the operator-supplied list
 * below, the policy parses with the gateway's parser, the NetworkPolicy denies by default, and
 * the probe command really health-checks a TLS gateway. `kubectl kustomize`, where installed,
 * builds the base and an overlay with the cert-manager example.
 */
import { execFile, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import test from 'ava';
import { parse, parseAllDocuments } from 'yaml';
import { JwtVerifier } from '../../src/auth/jwt';
import { parsePolicy } from '../../src/auth/policy';
import { ReloadingServerCredentials } from '../../src/auth/tls';
import { loadConfig } from '../../src/config/load';
import { SETTINGS } from '../../src/config/settings';
import { createTlsMaterial } from '@secrets-gateway/kms-emulator/tls';
import { ConfigError } from '../../src/errors';
import { buildServer, createHealth, setServing } from '../../src/server/server';
import { silentLogger } from '../../src/telemetry/logger';

const ROOT = join(__dirname, '..', '..');
const DIR = join(ROOT, 'k8s', 'base');
const raw = Object.fromEntries(readdirSync(DIR).map((f) => [f, readFileSync(join(DIR, f), 'utf8')]));
const docs = Object.fromEntries(Object.entries(raw).map(([f, text]) => [f, parse(text)]));
const kustomization = docs['kustomization.yaml'];
const resources: string[] = kustomization.resources;
const deployment = docs['deployment.yaml'];
const podSpec = deployment.spec.template.spec;
const container = podSpec.containers[0];
const configMap = docs['configmap.yaml'];
const netpol = docs['networkpolicy.yaml'];

/**
 * The ConfigMaps and Secrets the pods reference that the base does not define: the operator
 * creates them (kustomization.yaml names each). `keys`: the keys the base relies on.
 */
const OPERATOR_SUPPLIED: Record<string, { keys: string[]; what: string }> = {
  'Secret/secrets-gateway-tls': { keys: ['tls.crt', 'tls.key', 'ca.crt'], what: 'kubernetes.io/tls, e.g. from cert-manager (certificate.example.yaml); ca.crt = the issuing CA' },
  'Secret/secrets-gateway-redis': { keys: ['url'], what: 'SECRETS_GATEWAY_REDIS_URL' },
  'Secret/secrets-gateway-seal-keys': { keys: ['keys'], what: 'SECRETS_GATEWAY_CACHE_SEAL_KEYS' },
};

/** Stand-ins for what the operator's Secrets and the ACK RRSA webhook supply at run time. */
const RRSA = { ALIBABA_CLOUD_ROLE_ARN: 'acs:ram::1:role/r', ALIBABA_CLOUD_OIDC_PROVIDER_ARN: 'acs:ram::1:oidc-provider/p', ALIBABA_CLOUD_OIDC_TOKEN_FILE: '/var/run/secrets/ack.alibabacloud.com/rrsa-tokens/token' };
const FROM_SECRETS = { SECRETS_GATEWAY_REDIS_URL: 'rediss://:redis-password@redis:6380', SECRETS_GATEWAY_CACHE_SEAL_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}` };

type Env = { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string } } };
const containerEnv: Env[] = container.env;
const literalEnv = Object.fromEntries(containerEnv.filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
/** Everything the container's environment holds, as the gateway would see it. */
const fullEnv = (): Record<string, string> => ({ ...configMap.data, ...literalEnv, ...RRSA, ...FROM_SECRETS });

/** Kind/name → data keys, for the ConfigMaps and Secrets the base itself defines. */
const defined = new Map<string, string[]>(
  resources
    .map((r) => docs[r])
    .filter((d) => d.kind === 'ConfigMap' || d.kind === 'Secret')
    .map((d) => [`${d.kind}/${d.metadata.name}`, Object.keys({ ...d.data, ...d.stringData })]),
);
const keysOf = (ref: string): string[] | undefined => defined.get(ref) ?? OPERATOR_SUPPLIED[ref]?.keys;

/** Settings that name a file the gateway reads. */
const FILE_SETTINGS = Object.keys(SETTINGS).filter((n) => /_FILE$|_file_path$/.test(n) || n === 'SECRETS_GATEWAY_CONFIG');

type Volume = { name: string; secret?: { secretName: string; items?: { key: string; path: string }[] }; configMap?: { name: string; items?: { key: string; path: string }[] } };
type Mount = { name: string; mountPath: string; readOnly?: boolean; subPath?: string; subPathExpr?: string };
const volumes: Volume[] = podSpec.volumes;
const mounts: Mount[] = container.volumeMounts;

/** Which ConfigMap or Secret key a file path in the container comes from, or why it comes from none. */
function sourceOf(path: string): { ref: string; key: string } | string {
  const m = mounts.find((x) => path.startsWith(x.mountPath.replace(/\/$/, '') + '/'));
  if (!m) return `${path} is on no volume mount`;
  const v = volumes.find((x) => x.name === m.name);
  if (!v) return `mount ${m.name} has no volume`;
  const file = path.slice(m.mountPath.replace(/\/$/, '').length + 1);
  const src = v.secret ? { ref: `Secret/${v.secret.secretName}`, items: v.secret.items } : v.configMap ? { ref: `ConfigMap/${v.configMap.name}`, items: v.configMap.items } : undefined;
  if (!src) return `volume ${v.name} is neither a Secret nor a ConfigMap`;
  const key = src.items ? src.items.find((i) => i.path === file)?.key : file;
  return key === undefined ? `${path}: volume ${v.name} projects no such item` : { ref: src.ref, key };
}

test('every manifest listed in kustomization.yaml exists; the cert-manager example is kept out of resources', (t) => {
  for (const r of resources) t.truthy(docs[r], r);
  t.truthy(docs['certificate.example.yaml']);
  t.false(resources.includes('certificate.example.yaml'), 'the base must apply without cert-manager CRDs');
  for (const f of Object.keys(raw)) t.is(parseAllDocuments(raw[f]!).length, 1, `${f}: one document per file`);
});

test('the ConfigMap (+ Secret-sourced env) is a valid serve config: TLS, optional mTLS, JWKS, a policy', (t) => {
  const fromSecrets = containerEnv.filter((e) => e.valueFrom?.secretKeyRef).map((e) => e.name);
  t.deepEqual(fromSecrets.sort(), Object.keys(FROM_SECRETS).sort(), 'the Deployment supplies exactly these from Secrets');
  const env = fullEnv();
  for (const escape of ['SECRETS_GATEWAY_ALLOW_PLAINTEXT', 'SECRETS_GATEWAY_ALLOW_ALL_CALLERS', 'SECRETS_GATEWAY_ALLOW_IN_MEMORY_CACHE']) t.false(escape in env, escape);

  const c = loadConfig({ mode: 'serve', env, cwd: DIR });
  t.deepEqual(c.kms.targets.map((x) => x.kind), ['vpc', 'vpc']);
  t.is(c.kms.credentials.type, 'oidc_role_arn');
  t.deepEqual(c.auth.tls, {
    certFile: '/etc/secrets-gateway/tls/tls.crt',
    keyFile: '/etc/secrets-gateway/tls/tls.key',
    clientCaFile: '/etc/secrets-gateway/client-ca/ca.crt',
    clientAuth: 'optional',
  });
  t.deepEqual(c.auth.jwt, { issuer: 'https://kubernetes.default.svc.cluster.local', audience: 'secrets-gateway', jwks: { file: '/etc/secrets-gateway/jwks/jwks.json' } });
  t.is(c.auth.policyFile, '/etc/secrets-gateway/policy/policy.yaml');
  t.false(c.auth.allowPlaintext);
  t.false(c.auth.allowAllCallers);
  // The root filesystem is read-only and no volume is writable: the audit trail goes to a stream.
  t.true(c.auth.auditLog === 'stdout' || c.auth.auditLog === 'stderr', String(c.auth.auditLog));

  // The loader really enforces what the ConfigMap satisfies: without TLS or the policy, serve refuses.
  const without = (...names: string[]) => Object.fromEntries(Object.entries(env).filter(([k]) => !names.includes(k)));
  const refused = (e: Record<string, string>) => t.throws(() => loadConfig({ mode: 'serve', env: e, cwd: DIR }), { instanceOf: ConfigError })!.setting;
  t.is(refused(without('SECRETS_GATEWAY_TLS_CERT_FILE', 'SECRETS_GATEWAY_TLS_KEY_FILE', 'SECRETS_GATEWAY_TLS_CLIENT_CA_FILE')), 'SECRETS_GATEWAY_TLS_CERT_FILE');
  t.is(refused(without('SECRETS_GATEWAY_POLICY_FILE')), 'SECRETS_GATEWAY_POLICY_FILE');
  t.is(refused(without('SECRETS_GATEWAY_AUTH_JWKS_FILE', 'SECRETS_GATEWAY_AUTH_JWT_ISSUER', 'SECRETS_GATEWAY_AUTH_JWT_AUDIENCE')), 'SECRETS_GATEWAY_TLS_CLIENT_AUTH');
});

test('every env name in the Deployment and the ConfigMap is a real setting or an ALIBABA_CLOUD_* variable', (t) => {
  const names = [...Object.keys(configMap.data), ...containerEnv.map((e) => e.name)];
  t.true(names.length > 10);
  for (const n of names) t.true(n in SETTINGS || /^ALIBABA_CLOUD_[A-Z_]+$/.test(n), `${n} is not a setting`);
  t.deepEqual(container.envFrom, [{ configMapRef: { name: configMap.metadata.name } }]);
});

test('every file path setting points into a read-only mount, at a key its ConfigMap or Secret holds', (t) => {
  const env = { ...configMap.data, ...literalEnv };
  const c = loadConfig({ mode: 'serve', env: fullEnv(), cwd: DIR });
  const fromEnv = FILE_SETTINGS.filter((n) => env[n] !== undefined).map((n) => [n, env[n] as string] as const);
  const loaded = [
    ['tls.certFile', c.auth.tls?.certFile],
    ['tls.keyFile', c.auth.tls?.keyFile],
    ['tls.clientCaFile', c.auth.tls?.clientCaFile],
    ['jwt.jwks.file', c.auth.jwt && 'file' in c.auth.jwt.jwks ? c.auth.jwt.jwks.file : undefined],
    ['policyFile', c.auth.policyFile],
  ] as const;
  t.is(fromEnv.length, 5, fromEnv.map(([n]) => n).join(', '));
  for (const [name, path] of [...fromEnv, ...loaded]) {
    t.truthy(path, name);
    const src = sourceOf(path!);
    if (typeof src === 'string') {
      t.fail(`${name}: ${src}`);
      continue;
    }
    t.true(keysOf(src.ref)?.includes(src.key), `${name}=${path}: ${src.ref} has no key ${src.key}`);
  }
  for (const m of mounts) {
    t.true(m.readOnly, `${m.name} is mounted read-only`);
    // A subPath mount never sees the kubelet's symlink swap: rotated files would never arrive.
    t.is(m.subPath ?? m.subPathExpr, undefined, `${m.name} has no subPath`);
  }
  t.deepEqual(volumes.map((v) => v.name).sort(), mounts.map((m) => m.name).sort(), 'every volume is mounted once');
});

test('every ConfigMap and Secret the pods reference is in the base or on the operator-supplied list', (t) => {
  const refs: Array<{ ref: string; key?: string; where: string }> = [];
  for (const v of volumes) {
    if (v.secret) for (const key of v.secret.items?.map((i) => i.key) ?? [undefined]) refs.push({ ref: `Secret/${v.secret.secretName}`, key, where: `volume ${v.name}` });
    if (v.configMap) for (const key of v.configMap.items?.map((i) => i.key) ?? [undefined]) refs.push({ ref: `ConfigMap/${v.configMap.name}`, key, where: `volume ${v.name}` });
  }
  for (const e of container.envFrom as Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>) {
    if (e.configMapRef) refs.push({ ref: `ConfigMap/${e.configMapRef.name}`, where: 'envFrom' });
    if (e.secretRef) refs.push({ ref: `Secret/${e.secretRef.name}`, where: 'envFrom' });
  }
  for (const e of containerEnv) {
    if (e.valueFrom?.secretKeyRef) refs.push({ ref: `Secret/${e.valueFrom.secretKeyRef.name}`, key: e.valueFrom.secretKeyRef.key, where: `env ${e.name}` });
    if (e.valueFrom?.configMapKeyRef) refs.push({ ref: `ConfigMap/${e.valueFrom.configMapKeyRef.name}`, key: e.valueFrom.configMapKeyRef.key, where: `env ${e.name}` });
  }
  for (const r of refs) {
    const keys = keysOf(r.ref);
    t.truthy(keys, `${r.where}: ${r.ref} is neither defined in the base nor operator-supplied`);
    if (r.key !== undefined) t.true(keys?.includes(r.key), `${r.where}: ${r.ref} has no key ${r.key}`);
  }
  // The list stays honest: each entry is used, not defined here after all, and documented.
  for (const ref of Object.keys(OPERATOR_SUPPLIED)) {
    t.true(refs.some((r) => r.ref === ref), `${ref} is on the list but unused`);
    t.false(defined.has(ref), `${ref} is defined in the base`);
    t.true(raw['kustomization.yaml']!.includes(ref.split('/')[1]!), `kustomization.yaml names the operator-supplied ${ref}`);
  }
  t.true(defined.has('ConfigMap/secrets-gateway-policy') && defined.has('ConfigMap/secrets-gateway-jwks'));
});

test("the policy ConfigMap's policy.yaml parses with the gateway's parser (default deny), and so does its commented example", (t) => {
  const text: string = docs['configmap-policy.yaml'].data['policy.yaml'];
  const policy = parsePolicy(text, { source: 'configmap-policy.yaml' });
  t.is(policy.rules.length, 0);
  t.false(policy.decide('system:serviceaccount:payments:api', 'payments/db', 'ACSCurrent', undefined), 'no rules: deny');

  // The example is the commented block from `# rules:` on; uncommented it must be a valid policy too.
  const lines = text.split('\n');
  const start = lines.findIndex((l) => /^#\s*rules:/.test(l));
  t.true(start > 0, 'a commented example rule');
  const example = lines.slice(start).filter((l) => l.startsWith('#')).map((l) => l.replace(/^# ?/, '')).join('\n');
  const p = parsePolicy(example, { source: 'configmap-policy.yaml (example)' });
  const ids = p.rules.flatMap((r) => r.identities);
  t.true(ids.some((i) => /^system:serviceaccount:[^:*]+:\*$/.test(i)), 'a system:serviceaccount:<ns>:* pattern');
  t.true(ids.some((i) => i.startsWith('spiffe://')), 'a SPIFFE ID');
  t.true(p.decide('system:serviceaccount:payments:api', 'payments/db', 'ACSCurrent', undefined));
  t.true(p.decide('spiffe://cluster.local/ns/payments/sa/api', 'shared/db-readonly', undefined, undefined));
  t.false(p.decide('system:serviceaccount:other:api', 'payments/db', 'ACSCurrent', undefined));
  t.false(p.decide('system:serviceaccount:payments:api', 'other/db', 'ACSCurrent', undefined));
});

test('the JWKS placeholder is refused until filled (fail closed); a key set like /openid/v1/jwks is accepted', async (t) => {
  const text: string = docs['configmap-jwks.yaml'].data['jwks.json'];
  t.deepEqual(JSON.parse(text), { keys: [] });
  const dir = mkdtempSync(join(tmpdir(), 'sg-k8s-jwks-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const verifier = (file: string) => new JwtVerifier({ issuer: 'https://kubernetes.default.svc.cluster.local', audience: 'secrets-gateway', jwks: { file }, logger: silentLogger });
  writeFileSync(join(dir, 'placeholder.json'), text);
  t.is(t.throws(() => verifier(join(dir, 'placeholder.json')), { instanceOf: ConfigError })!.setting, 'SECRETS_GATEWAY_AUTH_JWKS_FILE');
  // The shape `kubectl get --raw /openid/v1/jwks` prints.
  const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [{ use: 'sig', kid: 'k1', alg: 'RS256', ...jwk }] }));
  const v = verifier(join(dir, 'jwks.json'));
  v.close();
  t.pass();
});

test('the NetworkPolicy denies by default: ingress on 50051 from labelled namespaces only; egress to DNS, Redis and 443 only', (t) => {
  const spec = netpol.spec;
  t.deepEqual([...spec.policyTypes].sort(), ['Egress', 'Ingress']);
  type Peer = { namespaceSelector?: { matchLabels?: Record<string, string> }; podSelector?: { matchLabels?: Record<string, string> }; ipBlock?: { cidr: string } };
  type Port = { port: number; protocol: string };
  type Rule = { from?: Peer[]; to?: Peer[]; ports?: Port[] };
  const nonEmpty = (sel?: { matchLabels?: Record<string, string> }) => sel === undefined || Object.keys(sel.matchLabels ?? {}).length > 0;
  const portSet = (r: Rule) => (r.ports ?? []).map((p) => `${p.protocol}/${p.port}`).sort();

  // A rule without peers or without ports admits every peer or every port: none may lack either.
  for (const [dir, rules] of [['ingress', spec.ingress], ['egress', spec.egress]] as const) {
    for (const [i, r] of (rules as Rule[]).entries()) {
      const peers = r.from ?? r.to ?? [];
      t.true(peers.length > 0, `${dir}[${i}] names its peers`);
      t.true((r.ports ?? []).length > 0, `${dir}[${i}] names its ports`);
      for (const p of peers) t.true(nonEmpty(p.namespaceSelector) && nonEmpty(p.podSelector), `${dir}[${i}]: no empty ({} = everything) selector`);
    }
  }

  const ingress: Rule[] = spec.ingress;
  t.is(ingress.length, 2, 'gRPC for clients, the admin port for Prometheus');
  t.deepEqual(portSet(ingress[0]!), [`TCP/${container.ports[0].containerPort}`]);
  for (const p of ingress[0]!.from!) {
    t.deepEqual(Object.keys(p), ['namespaceSelector'], 'only namespaces, by label');
    t.deepEqual(p.namespaceSelector!.matchLabels, { 'secrets-gateway.io/client': 'true' });
  }
  const admin = container.ports.find((p: { name: string }) => p.name === 'admin');
  t.deepEqual(portSet(ingress[1]!), [`TCP/${admin.containerPort}`]);
  t.is(literalEnv.SECRETS_GATEWAY_ADMIN_LISTEN, `0.0.0.0:${admin.containerPort}`);
  for (const p of ingress[1]!.from!) t.deepEqual(p.namespaceSelector!.matchLabels, { 'secrets-gateway.io/metrics': 'true' });

  const egress: Rule[] = spec.egress;
  const dns = egress.filter((r) => portSet(r).every((p) => p.endsWith('/53')));
  const redis = egress.filter((r) => portSet(r).every((p) => p === 'TCP/6379' || p === 'TCP/6380'));
  const https = egress.filter((r) => portSet(r).every((p) => p === 'TCP/443'));
  t.is(dns.length + redis.length + https.length, egress.length, 'no egress beyond DNS, Redis and 443');
  t.is(dns.length, 1);
  t.deepEqual(portSet(dns[0]!), ['TCP/53', 'UDP/53']);
  t.deepEqual(dns[0]!.to, [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }]);
  t.is(redis.length, 1);
  t.true(portSet(redis[0]!).includes('TCP/6379'));
  for (const p of redis[0]!.to!) t.true(p.namespaceSelector !== undefined && p.podSelector !== undefined && p.ipBlock === undefined, 'Redis: labelled namespace and pods');
  t.is(https.length, 1);
  for (const p of https[0]!.to!) t.deepEqual(Object.keys(p), ['ipBlock'], 'KMS/STS: by CIDR');
});

test('terminationGracePeriodSeconds covers preStop plus the gateway shutdown grace', (t) => {
  const graceMs = Number(configMap.data.SECRETS_GATEWAY_SHUTDOWN_GRACE_MS);
  const preStopS = container.lifecycle.preStop.sleep.seconds;
  t.true(podSpec.terminationGracePeriodSeconds * 1000 > preStopS * 1000 + graceMs + 5000);
});

test('the Service, PDB and NetworkPolicy select the Deployment pods on the gRPC port', (t) => {
  const podLabels = deployment.spec.selector.matchLabels;
  t.deepEqual(docs['service.yaml'].spec.selector, podLabels);
  t.deepEqual(docs['pdb.yaml'].spec.selector.matchLabels, podLabels);
  t.deepEqual(netpol.spec.podSelector.matchLabels, podLabels);
  t.is(container.ports[0].containerPort, 50051);
  t.is(docs['service.yaml'].spec.ports[0].targetPort, container.ports[0].name);
  t.is(netpol.spec.ingress[0].ports[0].port, 50051);
  t.true(docs['pdb.yaml'].spec.minAvailable < deployment.spec.replicas);
  t.is(literalEnv.SECRETS_GATEWAY_LISTEN, `0.0.0.0:${container.ports[0].containerPort}`);
});

test('the cert-manager example issues the mounted TLS Secret for the Service names', (t) => {
  const cert = docs['certificate.example.yaml'];
  t.is(cert.kind, 'Certificate');
  const tlsSecret = volumes.find((v) => v.name === 'tls')!.secret!.secretName;
  t.is(cert.spec.secretName, tlsSecret);
  t.is(volumes.find((v) => v.name === 'client-ca')!.secret?.secretName, tlsSecret, 'by default the client CA is the same issuer’s ca.crt');
  const svc = docs['service.yaml'].metadata.name;
  const ns = kustomization.namespace;
  for (const n of [svc, `${svc}.${ns}`, `${svc}.${ns}.svc`, `${svc}.${ns}.svc.cluster.local`]) t.true(cert.spec.dnsNames.includes(n), n);
  t.true(cert.spec.usages.includes('server auth'));
});

// --- The probes --------------------------------------------------------------------------------

type Probe = { exec?: { command: string[] }; grpc?: unknown; httpGet?: unknown; tcpSocket?: unknown };
const probeCommand = (p: Probe) => p.exec!.command;

/** Runs a probe command as the kubelet would: in the container's environment (its listen address). */
function runProbe(command: string[], port: number): Promise<{ code: number; stderr: string }> {
  const [bin, ...args] = command;
  return new Promise((resolve) => {
    execFile(bin === 'node' ? process.execPath : bin!, args, { cwd: tmpdir(), env: { PATH: process.env.PATH ?? '', SECRETS_GATEWAY_LISTEN: `0.0.0.0:${port}` }, timeout: 15_000 }, (err, _out, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stderr }),
    );
  });
}

test('the probes are exec health checks over TLS (the built-in grpc probe is plaintext), one script for both', (t) => {
  const { readinessProbe: ready, livenessProbe: live } = container as { readinessProbe: Probe; livenessProbe: Probe };
  for (const p of [ready, live]) t.is(p.grpc ?? p.httpGet ?? p.tcpSocket, undefined, 'an exec probe');
  // One script; only the mode differs.
  t.deepEqual(probeCommand(ready).slice(0, -1), probeCommand(live).slice(0, -1));
  t.deepEqual([probeCommand(ready).at(-1), probeCommand(live).at(-1)], ['ready', 'live']);
  // Above the script's own 3 s deadline plus node's start-up.
  for (const p of [ready, live] as Array<Probe & { timeoutSeconds?: number }>) t.true((p.timeoutSeconds ?? 1) >= 5, 'timeoutSeconds leaves room for node to start');
});

test('the probe command passes against a TLS+mTLS-optional gateway when SERVING, readiness fails when NOT_SERVING, both fail when down', async (t) => {
  const { ca, server } = await createTlsMaterial({});
  const dir = mkdtempSync(join(tmpdir(), 'sg-k8s-probe-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [f, pem] of [['tls.crt', server.certPem], ['tls.key', server.keyPem], ['ca.crt', ca.certPem]] as const) writeFileSync(join(dir, f), pem);
  // As configured by the ConfigMap: a client CA, so the server asks for client certificates (the probe has none).
  const credentials = new ReloadingServerCredentials({ certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), clientCaFile: join(dir, 'ca.crt'), reloadIntervalMs: 60_000 }, silentLogger);
  t.teardown(() => credentials.close());
  const health = createHealth();
  const { server: grpcServer, port } = await buildServer({ host: '127.0.0.1', port: 0 }, {}, health, { credentials });
  t.teardown(() => grpcServer.forceShutdown());
  const ready = probeCommand(container.readinessProbe);
  const live = probeCommand(container.livenessProbe);
  const both = async () => (await Promise.all([runProbe(ready, port), runProbe(live, port)])).map((r) => r.code);

  t.deepEqual(await both(), [1, 0], 'NOT_SERVING (warming up, draining): not ready, but alive');
  setServing(health, true);
  t.deepEqual(await both(), [0, 0], 'SERVING');
  grpcServer.forceShutdown();
  const down = await Promise.all([runProbe(ready, port), runProbe(live, port)]);
  t.deepEqual(down.map((r) => r.code), [1, 1], 'nothing listening');
  t.regex(down[0]!.stderr, /^health check: ECONNREFUSED/m, 'the reason reaches the probe event');
});

// --- kustomize, where kubectl is installed ---------------------------------------------------------

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8', timeout: 30_000 }).status === 0;

(kubectl ? test : test.skip)('kubectl kustomize builds the base, and an overlay that adds the cert-manager example', (t) => {
  const build = (dir: string) => {
    const r = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 60_000 });
    t.is(r.status, 0, r.stderr);
    return parseAllDocuments(r.stdout).map((d) => d.toJS());
  };
  const base = build(DIR);
  t.deepEqual(base.map((d) => `${d.kind}/${d.metadata.name}`).sort(), resources.map((r) => `${docs[r].kind}/${docs[r].metadata.name}`).sort());
  for (const d of base) if (d.kind !== 'Namespace') t.is(d.metadata.namespace, kustomization.namespace, `${d.kind}/${d.metadata.name}`);

  // As certificate.example.yaml tells operators: copy it into the overlay, set the namespace.
  const overlay = mkdtempSync(join(tmpdir(), 'sg-k8s-overlay-'));
  t.teardown(() => rmSync(overlay, { recursive: true, force: true }));
  copyFileSync(join(DIR, 'certificate.example.yaml'), join(overlay, 'certificate.yaml'));
  writeFileSync(join(overlay, 'kustomization.yaml'), `namespace: ${kustomization.namespace}\nresources:\n  - ${relative(overlay, DIR)}\n  - certificate.yaml\n`);
  const cert = build(overlay).find((d) => d.kind === 'Certificate');
  t.is(cert?.metadata.namespace, kustomization.namespace);
  t.is(cert?.spec.secretName, 'secrets-gateway-tls');
});
