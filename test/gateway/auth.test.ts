/**
 * Who may read what, end to end over real TLS sockets: `serve` with mTLS (optional, so tokens
 * work too), a JWKS file, a policy file and an audit file, grpc-js clients presenting each kind of
 * certificate and token. Every assertion is a status, an audit line or a count, never a timing.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connect } from 'node:tls';
import test, { type ExecutionContext } from 'ava';
import * as grpc from '@grpc/grpc-js';
import { loadConfig } from '../../src/config/load';
import { SecretsGatewayServiceClient, type GetSecretResponse } from '../../src/gen/secretsgateway/v1/secrets_gateway';
import { startGateway, type RunningGateway } from '../../src/main';
import { startTelemetry } from '../../src/telemetry/otel';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { AggregationTemporality, InMemoryMetricExporter, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { SecretNotFoundError } from '../../src/errors';
import { issueServerCertAsync, type ServerCert } from '@secrets-gateway/kms-emulator/tls';
import { captureLogger, replaceFile, tempDir, until } from '../auth/testKit';
import { FakeSource, version } from '../helpers/fakeSource';
import { healthWith, listServicesWith } from '../helpers/grpc';
import { freePort } from '../helpers/redis';
import { copyAuthMaterial, makeAuthMaterial, POLICY, SA_OTHER, SA_WORKER, SPIFFE_API, type AuthMaterial } from './authMaterial';

const VALUE = (name: string) => `VALUE-SENTINEL-${name}`;
const run = promisify(execFile);

interface Env {
  m: AuthMaterial;
  gw: RunningGateway;
  port: number;
  source: FakeSource;
  logs: string[];
  auditFile: string;
  audit(): Record<string, unknown>[];
  /** Every finished span, as JSON. */
  spanText(): string;
  /** Every metric exported so far, as JSON. */
  metricText(): Promise<string>;
}

// One set of keys and certificates for the file (RSA key generation is the slow part); each test
// gets its own copy of the files, since some rewrite them.
let shared: Promise<AuthMaterial> | undefined;
test.after.always(async () => {
  if (shared) rmSync((await shared).dir, { recursive: true, force: true });
});

async function startAuthGateway(t: ExecutionContext, over: Record<string, string> = {}): Promise<Env> {
  const dir = tempDir(t);
  shared ??= makeAuthMaterial(mkdtempSync(join(tmpdir(), 'sg-auth-material-')));
  const m = copyAuthMaterial(await shared, dir);
  const port = await freePort();
  const auditFile = `${dir}/audit.log`;
  const source = new FakeSource({
    respond: (sel) => (sel.name.startsWith('missing/') ? new SecretNotFoundError(`secret "${sel.name}" not found`) : version(sel.name, 'v1', VALUE(sel.name))),
  });
  const { logger, lines } = captureLogger();
  const spans = new InMemorySpanExporter();
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const metricReader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });
  const telemetry = startTelemetry({ spanProcessor: new SimpleSpanProcessor(spans), metricReader });
  const config = loadConfig({
    mode: 'serve',
    env: {},
    overrides: {
      SECRETS_GATEWAY_LISTEN: `127.0.0.1:${port}`,
      SECRETS_GATEWAY_ADMIN_LISTEN: '127.0.0.1:0',
      cache_client_region_id: '[{"regionId":"cn-hangzhou"}]',
      credentials_type: 'ak',
      credentials_access_key_id: 'unused',
      credentials_access_secret: 'unused',
      SECRETS_GATEWAY_ALLOW_IN_MEMORY_CACHE: 'true',
      SECRETS_GATEWAY_TLS_CERT_FILE: m.files.cert,
      SECRETS_GATEWAY_TLS_KEY_FILE: m.files.key,
      SECRETS_GATEWAY_TLS_CLIENT_CA_FILE: m.files.clientCa,
      SECRETS_GATEWAY_TLS_CLIENT_AUTH: 'optional',
      SECRETS_GATEWAY_TLS_RELOAD_INTERVAL_MS: '100',
      SECRETS_GATEWAY_AUTH_JWKS_FILE: m.files.jwks,
      SECRETS_GATEWAY_AUTH_JWT_ISSUER: 'https://kubernetes.default.svc.cluster.local',
      SECRETS_GATEWAY_AUTH_JWT_AUDIENCE: 'secrets-gateway',
      SECRETS_GATEWAY_POLICY_FILE: m.files.policy,
      SECRETS_GATEWAY_AUDIT_LOG: auditFile,
      SECRETS_GATEWAY_LOG_LEVEL: 'debug',
      SECRETS_GATEWAY_WATCH_POLL_INTERVAL_MS: '500',
      ...over,
    },
  });
  const gw = await startGateway(config, { logger, source, telemetry });
  t.teardown(() => gw.shutdown());
  const audit = () =>
    readFileSync(auditFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const spanText = () => JSON.stringify(spans.getFinishedSpans().map((sp) => ({ name: sp.name, attributes: sp.attributes, status: sp.status, events: sp.events })));
  const metricText = async () => {
    await metricReader.forceFlush();
    return JSON.stringify(metricExporter.getMetrics());
  };
  return { m, gw, port, source, logs: lines, auditFile, audit, spanText, metricText };
}

function client(t: ExecutionContext, e: Env, who: { cert?: ServerCert; token?: string } = {}): SecretsGatewayServiceClient {
  const tlsCreds = grpc.credentials.createSsl(Buffer.from(e.m.ca.certPem), who.cert ? Buffer.from(who.cert.keyPem) : null, who.cert ? Buffer.from(who.cert.certPem) : null);
  const creds = who.token
    ? grpc.credentials.combineChannelCredentials(
        tlsCreds,
        grpc.credentials.createFromMetadataGenerator((_p, cb) => {
          const md = new grpc.Metadata();
          md.set('authorization', `Bearer ${who.token}`);
          cb(null, md);
        }),
      )
    : tlsCreds;
  const c = new SecretsGatewayServiceClient(`localhost:${e.port}`, creds);
  t.teardown(() => c.close());
  return c;
}

type Answer = { code: grpc.status; details: string; trailers?: grpc.Metadata; res?: GetSecretResponse };
function get(c: SecretsGatewayServiceClient, name: string): Promise<Answer> {
  return new Promise((resolve) => {
    const call = c.getSecret({ name, versionStage: '', versionId: '', regionId: '', fetchExtendedConfig: false }, new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (err, res) =>
      resolve(err ? { code: err.code, details: err.details, trailers: err.metadata } : { code: grpc.status.OK, details: '', res }),
    );
    void call;
  });
}

test('a caller inside the policy reads its secret, by certificate or by token; each audit line names the version served', async (t) => {
  const e = await startAuthGateway(t);
  const bySpiffe = await get(client(t, e, { cert: e.m.clients.spiffe }), 'payments/db');
  t.is(bySpiffe.code, grpc.status.OK);
  t.is(bySpiffe.res!.secret!.stringValue, VALUE('payments/db'));
  const byToken = await get(client(t, e, { token: e.m.tokens.worker }), 'payments/db');
  t.is(byToken.code, grpc.status.OK);
  const byDns = await get(client(t, e, { cert: e.m.clients.dns }), 'billing/eu/invoices');
  t.is(byDns.code, grpc.status.OK, 'the DNS SAN is the identity; ** crosses segments');
  const lines = e.audit();
  t.like(lines[0], { identity: SPIFFE_API, method: 'GetSecret', secretName: 'payments/db', decision: 'allow', code: 'OK', servedVersionId: 'v1', freshness: 'KMS' });
  t.like(lines[1], { identity: SA_WORKER, decision: 'allow', servedVersionId: 'v1', freshness: 'LOCAL_CACHE' });
  t.like(lines[2], { identity: 'billing.internal', secretName: 'billing/eu/invoices', decision: 'allow' });
});

test('a caller outside the policy gets PERMISSION_DENIED on a cache hit and on a miss alike, before the cache is touched; both are audited', async (t) => {
  const e = await startAuthGateway(t);
  t.is((await get(client(t, e, { cert: e.m.clients.spiffe }), 'payments/db')).code, grpc.status.OK); // now cached
  const outsider = client(t, e, { token: e.m.tokens.other });
  const calls = e.source.calls;
  const hit = await get(outsider, 'payments/db');
  const miss = await get(outsider, 'payments/never-read');
  const gone = await get(outsider, 'missing/anything');
  for (const a of [hit, miss, gone]) t.is(a.code, grpc.status.PERMISSION_DENIED);
  t.is(hit.details.replace('payments/db', 'X'), miss.details.replace('payments/never-read', 'X'), 'the same message, whether cached or not');
  t.is(e.source.calls, calls, 'no KMS call for a denied caller');
  const denials = e.audit().filter((l) => l.decision === 'deny');
  t.deepEqual(
    denials.map((l) => [l.identity, l.secretName, l.code]),
    [
      [SA_OTHER, 'payments/db', 'PERMISSION_DENIED'],
      [SA_OTHER, 'payments/never-read', 'PERMISSION_DENIED'],
      [SA_OTHER, 'missing/anything', 'PERMISSION_DENIED'],
    ],
  );
  // The CN-only certificate is an identity too, and no rule names it.
  t.is((await get(client(t, e, { cert: e.m.clients.cn }), 'payments/db')).code, grpc.status.PERMISSION_DENIED);
  t.like(e.audit().at(-1), { identity: 'reporting', decision: 'deny' });
});

// Serial: each gateway adds a SIGHUP listener, and ten at once is the process's limit.
test.serial('two connections with two certificates, alternating on cached answers, are each their own caller', async (t) => {
  const e = await startAuthGateway(t);
  const spiffe = client(t, e, { cert: e.m.clients.spiffe });
  const dns = client(t, e, { cert: e.m.clients.dns });
  for (let i = 0; i < 3; i++) {
    t.is((await get(spiffe, 'payments/db')).code, grpc.status.OK);
    t.is((await get(dns, 'payments/db')).code, grpc.status.PERMISSION_DENIED, 'the DNS identity is not granted payments/db, even right after the SPIFFE ID was');
    t.is((await get(dns, 'billing/eu/invoices')).code, grpc.status.OK);
  }
  const lines = e.audit();
  t.deepEqual(
    lines.map((l) => [l.identity, l.secretName, l.decision]),
    Array.from({ length: 3 }, () => [
      [SPIFFE_API, 'payments/db', 'allow'],
      ['billing.internal', 'payments/db', 'deny'],
      ['billing.internal', 'billing/eu/invoices', 'allow'],
    ]).flat(),
  );
  const peers = (id: string) => new Set(lines.filter((l) => l.identity === id).map((l) => l.peer));
  t.is(peers(SPIFFE_API).size, 1);
  t.is(peers('billing.internal').size, 1);
  t.not([...peers(SPIFFE_API)][0], [...peers('billing.internal')][0], 'each line carries its own connection');
});

test('each bad token and each bad certificate gets UNAUTHENTICATED with a reason that never echoes the credential', async (t) => {
  const e = await startAuthGateway(t);
  const tokens = e.m.tokens;
  const cases: [string, { cert?: ServerCert; token?: string }][] = [
    ['wrong issuer', { token: tokens.wrongIss }],
    ['wrong audience', { token: tokens.wrongAud }],
    ['expired token', { token: tokens.expired }],
    ['alg none', { token: tokens.algNone }],
    ['signed by another key', { token: tokens.otherKey }],
    ['garbage token', { token: 'not-a-jwt' }],
    ['expired certificate', { cert: e.m.clients.expired }],
    ['certificate from another CA', { cert: e.m.clients.otherCa }],
    ['certificate posing as a service account', { cert: e.m.clients.posing }],
    ['no credentials', {}],
  ];
  for (const [what, who] of cases) {
    const a = await get(client(t, e, who), 'payments/db');
    t.is(a.code, grpc.status.UNAUTHENTICATED, what);
    if (who.token) t.false(a.details.includes(who.token) || a.details.includes(who.token.split('.')[1] ?? '\0'), `${what}: the reason does not echo the token`);
  }
  t.is(e.source.calls, 0, 'nobody unauthenticated reached the cache');
  const audited = e.audit();
  t.is(audited.length, cases.length, 'every refusal is audited');
  t.true(audited.every((l) => l.decision === 'deny' && l.code === 'UNAUTHENTICATED' && l.identity === null));
  for (const tok of Object.values(tokens)) {
    for (const line of [...e.logs, readFileSync(e.auditFile, 'utf8')]) t.false(line.includes(tok), 'no token in any log or audit line');
  }
});

test('replacing the server certificate files is picked up by new connections without a restart; a bad pair keeps the old one', async (t) => {
  const e = await startAuthGateway(t);
  const serial = () =>
    new Promise<string>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: e.port, ca: e.m.ca.certPem, servername: 'localhost', ALPNProtocols: ['h2'] }, () => {
        resolve(s.getPeerCertificate().serialNumber);
        s.end();
      });
      s.once('error', reject);
    });
  const before = await serial();
  // A half-rotated pair (new certificate, old key) does not load: the old pair stays in service.
  const next = await issueServerCertAsync(e.m.ca);
  replaceFile(e.m.files.cert, next.certPem);
  await until(() => e.logs.some((l) => l.includes('do not load')));
  t.is(await serial(), before, 'a bad pair is not used');
  replaceFile(e.m.files.key, next.keyPem);
  await until(() => e.logs.some((l) => l.includes('certificate files reloaded')));
  const after = await serial();
  t.not(after, before, 'new connections see the new certificate');
  t.is((await get(client(t, e, { cert: e.m.clients.spiffe }), 'payments/db')).code, grpc.status.OK, 'and gRPC works over it');
  for (const line of e.logs) t.false(line.includes('PRIVATE KEY'), 'no key material in logs');
});

test('a policy reload ends a watch that lost its permission and grants a new one, without a restart', async (t) => {
  const e = await startAuthGateway(t);
  const c = client(t, e, { token: e.m.tokens.worker });
  const stream = c.watchSecret({ name: 'payments/db', versionStage: '', regionId: '', lastVersionId: '' });
  const ended = new Promise<grpc.ServiceError>((resolve) => stream.on('error', resolve));
  await new Promise<void>((resolve) => stream.once('data', () => resolve()));
  t.like(
    e.audit().find((l) => l.method === 'WatchSecret' && l.servedVersionId),
    { identity: SA_WORKER, decision: 'allow', servedVersionId: 'v1' },
    'the value a stream sends is audited, with its version',
  );
  // Take the service accounts' right away; give SA_OTHER one.
  replaceFile(e.m.files.policy, POLICY.replace('"system:serviceaccount:payments:*"', `"${SA_OTHER}"`));
  const err = await ended;
  t.is(err.code, grpc.status.PERMISSION_DENIED);
  t.like(e.audit().at(-1), { identity: SA_WORKER, method: 'WatchSecret', decision: 'deny', code: 'PERMISSION_DENIED' });
  const granted = await get(client(t, e, { token: e.m.tokens.other }), 'payments/db');
  t.is(granted.code, grpc.status.OK);
  t.is((await get(c, 'payments/db')).code, grpc.status.PERMISSION_DENIED);
});

test('per-caller limits answer RESOURCE_EXHAUSTED with retry-after-ms; the miss bucket caps what one noisy caller spends on KMS', async (t) => {
  const e = await startAuthGateway(t, { SECRETS_GATEWAY_LIMIT_MISS_RPS: '1', SECRETS_GATEWAY_LIMIT_MISS_BURST: '5', SECRETS_GATEWAY_LIMIT_GET_RPS: '1', SECRETS_GATEWAY_LIMIT_GET_BURST: '300' });
  const noisy = client(t, e, { token: e.m.tokens.worker });
  const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => get(noisy, `payments/random-${i}`)));
  const exhausted = answers.filter((a) => a.code === grpc.status.RESOURCE_EXHAUSTED);
  t.is(e.source.calls, answers.filter((a) => a.code === grpc.status.OK).length);
  t.log(`one noisy caller: ${e.source.calls} KMS calls for 200 random names, ${exhausted.length} RESOURCE_EXHAUSTED`);
  t.true(e.source.calls <= 6, `one noisy caller made ${e.source.calls} KMS calls for 200 random names (miss burst 5)`);
  t.true(exhausted.length >= 194);
  t.true(exhausted.every((a) => Number(a.trailers?.get('retry-after-ms')[0]) >= 1), 'each carries retry-after-ms');
  // Another caller's misses are its own.
  t.is((await get(client(t, e, { cert: e.m.clients.spiffe }), 'payments/quiet')).code, grpc.status.OK);
  // The GetSecret bucket: 300 burst, then the caller waits.
  const more = await Promise.all(Array.from({ length: 150 }, () => get(noisy, 'payments/quiet')));
  t.true(more.some((a) => a.code === grpc.status.RESOURCE_EXHAUSTED && /GetSecret rate/.test(a.details)));
});

test('a flood of calls that fail authentication from one address is cut to RESOURCE_EXHAUSTED and not audited line by line; a caller that authenticates is unaffected', async (t) => {
  const e = await startAuthGateway(t, { SECRETS_GATEWAY_LIMIT_UNAUTHENTICATED_RPS: '1', SECRETS_GATEWAY_LIMIT_UNAUTHENTICATED_BURST: '10' });
  const garbage = client(t, e, { token: 'not-a-jwt' });
  const answers = await Promise.all(Array.from({ length: 60 }, () => get(garbage, 'payments/db')));
  const refused = answers.filter((a) => a.code === grpc.status.UNAUTHENTICATED).length;
  const cut = answers.filter((a) => a.code === grpc.status.RESOURCE_EXHAUSTED);
  t.is(refused + cut.length, answers.length);
  t.true(refused >= 10 && refused <= 12, `${refused} UNAUTHENTICATED (burst 10)`);
  t.true(cut.every((a) => Number(a.trailers?.get('retry-after-ms')[0]) >= 1), 'each cut call carries retry-after-ms');
  t.is(e.audit().length, refused, 'only the calls inside the budget were audited');
  // The same address with a valid credential: its own identity's buckets, untouched by the flood.
  t.is((await get(client(t, e, { token: e.m.tokens.worker }), 'payments/db')).code, grpc.status.OK);
  t.regex(await e.metricText(), /"reason":"rate_limited"/);
});

test('an audit sink that cannot write makes calls fail closed with UNAVAILABLE: no value leaves unrecorded', async (t) => {
  const e = await startAuthGateway(t, { SECRETS_GATEWAY_AUDIT_LOG: '/dev/full' });
  const a = await get(client(t, e, { cert: e.m.clients.spiffe }), 'payments/db');
  t.is(a.code, grpc.status.UNAVAILABLE);
  t.is(a.res, undefined);
  const hit = await get(client(t, e, { cert: e.m.clients.spiffe }), 'payments/db');
  t.is(e.source.calls, 1, 'the value was cached by the first read: this one is an L1 hit, on the hot path');
  t.is(hit.code, grpc.status.UNAVAILABLE);
  t.is(hit.res, undefined);
  const denied = await get(client(t, e, { token: e.m.tokens.other }), 'payments/db');
  t.is(denied.code, grpc.status.UNAVAILABLE, 'a denial that cannot be recorded fails closed too');
  const stream = client(t, e, { cert: e.m.clients.spiffe }).watchSecret({ name: 'payments/db', versionStage: '', regionId: '', lastVersionId: '' });
  const got: unknown[] = [];
  stream.on('data', (m) => got.push(m));
  const err = await new Promise<grpc.ServiceError>((resolve) => stream.on('error', resolve));
  t.is(err.code, grpc.status.UNAVAILABLE);
  t.is(got.length, 0, 'a watch sends nothing it cannot record');
});

test('reflection needs the same authentication as the service in serve; health stays open for probes', async (t) => {
  const e = await startAuthGateway(t);
  const creds = (cert?: ServerCert) => grpc.credentials.createSsl(Buffer.from(e.m.ca.certPem), cert ? Buffer.from(cert.keyPem) : null, cert ? Buffer.from(cert.certPem) : null);
  const anonymous = await listServicesWith(`localhost:${e.port}`, creds()).catch((err: grpc.ServiceError) => err.code);
  t.is(anonymous, grpc.status.UNAUTHENTICATED);
  const listed = await listServicesWith(`localhost:${e.port}`, creds(e.m.clients.spiffe));
  t.true(Array.isArray(listed) && listed.includes('secretsgateway.v1.SecretsGatewayService'));
  t.is(await healthWith(`localhost:${e.port}`, creds()), 'SERVING');
});

test('Python (python3-grpcio) over TLS: a certificate inside the policy reads, a token outside is denied, an expired certificate is unauthenticated', async (t) => {
  const e = await startAuthGateway(t);
  const root = join(__dirname, '..', '..');
  const stubs = join(e.m.dir, 'py');
  mkdirSync(stubs);
  execFileSync('/usr/bin/python3', ['-m', 'grpc_tools.protoc', '-I', join(root, 'proto'), `--python_out=${stubs}`, `--grpc_python_out=${stubs}`, join(root, 'proto', 'secretsgateway', 'v1', 'secrets_gateway.proto')]);
  const pem = (name: string, text: string) => {
    const f = join(e.m.dir, name);
    writeFileSync(f, text);
    return f;
  };
  const ca = pem('py-ca.pem', e.m.ca.certPem);
  const py = async (who: string[], name: string) => {
    const { stdout } = await run('/usr/bin/python3', [join(root, 'examples', 'python', 'secrets_gateway_client.py'), '--target', `localhost:${e.port}`, '--ca', ca, ...who, 'get-status', name], {
      env: { PATH: process.env.PATH ?? '', PYTHONPATH: stubs },
      timeout: 60_000,
    });
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as { code: string; version_id?: string; details?: string };
  };
  const spiffe = ['--cert', pem('py-spiffe.crt', e.m.clients.spiffe.certPem), '--key', pem('py-spiffe.key', e.m.clients.spiffe.keyPem)];
  const expired = ['--cert', pem('py-expired.crt', e.m.clients.expired.certPem), '--key', pem('py-expired.key', e.m.clients.expired.keyPem)];
  const other = ['--token-file', pem('py-token', e.m.tokens.other)];
  t.like(await py(spiffe, 'payments/db'), { code: 'OK', version_id: 'v1' });
  t.like(await py(other, 'payments/db'), { code: 'PERMISSION_DENIED' });
  t.like(await py(expired, 'payments/db'), { code: 'UNAUTHENTICATED' });
  t.like(await py(['--token-file', pem('py-worker', e.m.tokens.worker)], 'payments/api'), { code: 'OK' });
  t.deepEqual(
    e.audit().map((l) => [l.identity, l.decision, l.code]),
    [
      [SPIFFE_API, 'allow', 'OK'],
      [SA_OTHER, 'deny', 'PERMISSION_DENIED'],
      [null, 'deny', 'UNAUTHENTICATED'],
      [SA_WORKER, 'allow', 'OK'],
    ],
  );
});

test('a full scenario leaves no secret value and no token in any log line, audit line, span or metric', async (t) => {
  const e = await startAuthGateway(t);
  const names = ['payments/db', 'payments/api', 'billing/eu/x'];
  for (const n of names) await get(client(t, e, { cert: e.m.clients.spiffe }), n);
  for (const tok of Object.values(e.m.tokens)) await get(client(t, e, { token: tok }), 'payments/db');
  await get(client(t, e, { cert: e.m.clients.dns }), 'billing/eu/x');
  const spansJson = e.spanText();
  t.true(spansJson.includes('payments/db'), 'spans were recorded (and carry the validated name)');
  const metricsJson = await e.metricText();
  t.true(metricsJson.includes('secretsgateway.rpc.requests'), 'metrics were recorded');
  const everything = [...e.logs, readFileSync(e.auditFile, 'utf8'), spansJson, metricsJson].join('\n');
  for (const n of names) t.false(everything.includes(VALUE(n)), `value of ${n}`);
  for (const tok of Object.values(e.m.tokens)) {
    t.false(everything.includes(tok), 'token');
    const sig = tok.split('.')[2];
    if (sig) t.false(everything.includes(sig), 'token signature');
  }
  t.false(everything.includes(readFileSync(e.m.files.key, 'utf8').split('\n')[1]!), 'server key');
  writeFileSync(`${e.m.dir}/scan.txt`, everything);
  t.pass();
});
