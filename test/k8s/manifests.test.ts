import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load';

const DIR = join(__dirname, '..', '..', 'k8s', 'base');
const docs = Object.fromEntries(readdirSync(DIR).map((f) => [f, parse(readFileSync(join(DIR, f), 'utf8'))]));
const deployment = docs['deployment.yaml'];
const container = deployment.spec.template.spec.containers[0];

test('every manifest listed in kustomization.yaml exists', (t) => {
  for (const r of docs['kustomization.yaml'].resources) t.truthy(docs[r], r);
});

test('the ConfigMap is a valid serve config: the gateway would start with it under RRSA', (t) => {
  // What the ACK pod identity webhook injects, plus the Redis URL secret.
  const rrsa = { ALIBABA_CLOUD_ROLE_ARN: 'acs:ram::1:role/r', ALIBABA_CLOUD_OIDC_PROVIDER_ARN: 'acs:ram::1:oidc-provider/p', ALIBABA_CLOUD_OIDC_TOKEN_FILE: '/var/run/secrets/ack.alibabacloud.com/rrsa-tokens/token' };
  const secrets = { SECRETS_GATEWAY_REDIS_URL: 'redis://redis:6379', SECRETS_GATEWAY_CACHE_SEAL_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}` };
  const fromSecrets = container.env.filter((e: { valueFrom?: { secretKeyRef?: unknown } }) => e.valueFrom?.secretKeyRef).map((e: { name: string }) => e.name);
  t.deepEqual(fromSecrets.sort(), Object.keys(secrets).sort(), 'the Deployment supplies exactly these from Secrets');
  const env = { ...docs['configmap.yaml'].data, ...rrsa, ...secrets };
  const c = loadConfig({ mode: 'serve', env, cwd: DIR });
  t.deepEqual(c.kms.targets.map((x) => x.kind), ['vpc', 'vpc']);
  t.is(c.kms.credentials.type, 'oidc_role_arn');
});

test('terminationGracePeriodSeconds covers preStop plus the gateway shutdown grace', (t) => {
  const graceMs = Number(docs['configmap.yaml'].data.SECRETS_GATEWAY_SHUTDOWN_GRACE_MS);
  const preStopS = container.lifecycle.preStop.sleep.seconds;
  t.true(deployment.spec.template.spec.terminationGracePeriodSeconds * 1000 > preStopS * 1000 + graceMs + 5000);
});

test('the Service, PDB and NetworkPolicy select the Deployment pods on the gRPC port', (t) => {
  const podLabels = deployment.spec.selector.matchLabels;
  t.deepEqual(docs['service.yaml'].spec.selector, podLabels);
  t.deepEqual(docs['pdb.yaml'].spec.selector.matchLabels, podLabels);
  t.deepEqual(docs['networkpolicy.yaml'].spec.podSelector.matchLabels, podLabels);
  t.is(container.ports[0].containerPort, 50051);
  t.is(docs['networkpolicy.yaml'].spec.ingress[0].ports[0].port, 50051);
  t.true(docs['pdb.yaml'].spec.minAvailable < deployment.spec.replicas);
});
